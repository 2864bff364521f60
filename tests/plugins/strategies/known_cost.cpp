// A strategy whose allocation costs a known number of instructions, as a plugin: each allocate()
// and each deallocate() executes exactly 1000 `nop`s besides a pointer bump (blocks are never
// reused). On node_churn, where every operation makes exactly one of those calls, allocation costs
// 1000 instructions per operation plus the bump's few; tests/test_instruction_pass.cpp checks that
// `allocproof instructions` finds that much. The file sits in a strategies/ folder, which is how
// the pass recognises a strategy's code (results/SCHEMA.md, "Instructions").
#include "allocproof/plugin.hpp"
#include "workloads/node_churn.hpp"

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace known_cost {

using allocproof::block_spec;
using allocproof::strategy_traits;

// The same file built with KNOWN_COST_NOPS=1100 is the planted 10% regression the counted cells'
// gate must flag (tests/test_counted_cells.cpp): the same strategy, by name and by result, with
// 10% more instructions in each call.
#ifndef KNOWN_COST_NOPS
#define KNOWN_COST_NOPS 1000
#endif
#define KNOWN_COST_TEXT(n) #n
#define KNOWN_COST_REPEAT(n) KNOWN_COST_TEXT(n)
#define KNOWN_COST_THOUSAND_NOPS() \
    asm volatile(".rept " KNOWN_COST_REPEAT(KNOWN_COST_NOPS) "\n\tnop\n\t.endr" ::: "memory")

class thousand_nops {
public:
    static constexpr strategy_traits traits{
        .name = "thousand_nops",
        .summary = "1000 nops per allocate and per deallocate over a bump pointer (a test of the instruction pass)",
        .origin = "tests/plugins/strategies/known_cost.cpp",
        .provides_blocks = true,
        .frees_individually = true,
    };

    explicit thousand_nops(const block_spec& spec) : alignment_(spec.alignment) {}
    ~thousand_nops() {
        for (void* chunk : chunks_) ::operator delete(chunk);
    }
    thousand_nops(const thousand_nops&) = delete;
    thousand_nops& operator=(const thousand_nops&) = delete;

    void* allocate(std::size_t bytes) {
        KNOWN_COST_THOUSAND_NOPS();
        std::uintptr_t at = (cursor_ + alignment_ - 1) & ~(std::uintptr_t{alignment_} - 1);
        if (at + bytes > end_ || cursor_ == 0) [[unlikely]] {
            chunks_.push_back(::operator new(chunk_bytes));
            cursor_ = reinterpret_cast<std::uintptr_t>(chunks_.back());
            end_ = cursor_ + chunk_bytes;
            at = (cursor_ + alignment_ - 1) & ~(std::uintptr_t{alignment_} - 1);
        }
        cursor_ = at + bytes;
        return reinterpret_cast<void*>(at);
    }
    void deallocate(void*, std::size_t) { KNOWN_COST_THOUSAND_NOPS(); }

private:
    static constexpr std::size_t chunk_bytes = std::size_t{4} << 20;
    std::size_t alignment_;
    std::uintptr_t cursor_ = 0, end_ = 0;
    std::vector<void*> chunks_;
};

void register_all() {
    allocproof::register_strategy_cells<thousand_nops>(allocproof::type_list<allocproof::workloads::node_churn>{});
}

}  // namespace known_cost

ALLOCPROOF_PLUGIN_REGISTERING("known cost", known_cost::register_all)
