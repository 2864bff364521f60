// The well-formed parts the cases of this folder share, so that each case differs from a right
// strategy or workload in the one thing it gets wrong.
#pragma once

#include "allocproof/strategy.hpp"
#include "allocproof/workload.hpp"

#include <cstddef>
#include <cstdint>
#include <new>

namespace contract_violations {

struct plain_blocks {
    static constexpr allocproof::strategy_traits traits{
        .name = "plain_blocks", .summary = "operator new", .origin = "tests/contract_violations"};
    explicit plain_blocks(const allocproof::block_spec&) {}
    void* allocate(std::size_t bytes) { return ::operator new(bytes); }
    void deallocate(void* block, std::size_t bytes) { ::operator delete(block, bytes); }
};

// A worker that keeps the whole contract: it sums the operations' indices.
template <class S>
class counting_worker {
public:
    counting_worker(const allocproof::workload_params&, unsigned) {}
    void operation(std::uint64_t index) { sum_ += index; }
    std::uint64_t finish() { return sum_; }
    std::size_t live_bytes_peak() const { return 0; }

private:
    std::uint64_t sum_ = 0;
};

}  // namespace contract_violations
