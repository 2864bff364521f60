// std — the baseline: the plain standard-library way, in every family.
//
//   blocks       each block from global operator new / delete (sized delete, as a C++ program
//                that knows its object sizes would call it)
//   vector       std::vector<T>
//   object_pool  no pooling: acquire() is `new T`, release() is `delete`
//   buffers      a deep copy per buffer and per slice
//
// Contract: any size, frees individually, thread-safe and cross-thread free (as the global
// allocator is), alignment up to alignof(std::max_align_t). Every other strategy is read as a
// ratio to this one on the same global allocator.
#include "harness/register.hpp"
#include "allocproof/std_baseline.hpp"
#include "allocproof/strategy.hpp"

#include <cstddef>
#include <vector>

namespace allocproof::strategies {

class std_strategy {
public:
    static constexpr strategy_traits traits{
        .name = "std",
        .summary = "global operator new/delete, std::vector, no pooling, deep copies",
        .origin = "baseline",
        .provides_blocks = true,
        .provides_vector = true,
        .provides_object_pool = true,
        .provides_buffers = true,
        .frees_individually = true,
        .thread_safe = true,
        .cross_thread_free = true,
    };

    explicit std_strategy(const block_spec&) {}

    void* allocate(std::size_t bytes) { return baseline::global_new_blocks_ops::allocate(bytes); }
    void deallocate(void* block, std::size_t bytes) { baseline::global_new_blocks_ops::deallocate(block, bytes); }

    template <class T, std::size_t N>
    using vector = std::vector<T>;

    template <class T>
    using object_pool = baseline::fresh_objects<T>;

    using buffer = baseline::copied_buffer;
};

}  // namespace allocproof::strategies

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::std_strategy)
