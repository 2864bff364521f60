// Variable-size blocks from any blocks strategy that frees individually: a strategy that serves
// any size is used as one instance; a fixed-size one as one instance per power-of-two size class
// (16 B .. max_bytes), a request going to the smallest class that holds it. The rounding is the
// fixed pools' honest price for variable sizes (a 4,100 B request holds an 8 KiB block): callers
// count the bytes they asked for as live, and the memory the pools hold shows the difference.
// Used by workloads/fragmentation.hpp.
#pragma once

#include "allocproof/strategy.hpp"

#include <bit>
#include <cstddef>
#include <memory>
#include <vector>

namespace allocproof::workloads {

template <class S>
class size_classed_blocks {
public:
    static constexpr std::size_t min_class = 16;

    size_classed_blocks(std::size_t max_bytes, std::size_t alignment) {
        if constexpr (S::traits.fixed_size) {
            for (std::size_t size = min_class; size < max_bytes * 2; size *= 2) {
                classes_.push_back(std::make_unique<S>(block_spec{size, alignment}));
            }
        } else {
            classes_.push_back(std::make_unique<S>(block_spec{max_bytes, alignment}));
        }
    }

    void* allocate(std::size_t bytes) { return serving(bytes).allocate(bytes); }
    void deallocate(void* block, std::size_t bytes) { serving(bytes).deallocate(block, bytes); }

private:
    S& serving(std::size_t bytes) {
        if constexpr (S::traits.fixed_size) {
            const std::size_t size = std::bit_ceil(bytes < min_class ? min_class : bytes);
            return *classes_[static_cast<std::size_t>(std::countr_zero(size) - std::countr_zero(min_class))];
        } else {
            return *classes_.front();
        }
    }

    std::vector<std::unique_ptr<S>> classes_;
};

}  // namespace allocproof::workloads
