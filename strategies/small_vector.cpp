// small_vector — our own small vector (strategies/small_vector.hpp): N elements inside the
// object, spilling to the standard allocator past N.
//
// Contract: vector family only. An instance is one thread's (as std::vector); no allocation
// while size() <= N; past N, memory from std::allocator (global operator new), doubling; elements
// aligned as alignof(T). The inline elements move with the vector (iterators do not survive a
// move), and the vector never returns inline once spilled.
//
// Models seed 003 (Lightning DB): "Replaced Vec<KeyEntry> with SmallVec<[KeyEntry; 8]> in
// BTreeNode entries ... most B-tree nodes have <8 entries ... ~40-60% reduction in allocations"
// (claim L3-1). Its peers are boost_small_vector and absl_inlined_vector; the baseline is std's
// std::vector.
//
// Measurement traps: the gain is the allocation avoided, so it exists only while sizes stay
// <= N (vector_fill/6 with N = 8); past N this is a std::vector with a larger header that first
// copies its inline elements out (vector_fill/20). A workload's own node size grows by
// N * sizeof(T), which a memory figure must count.
#include "harness/register.hpp"
#include "allocproof/strategy.hpp"
#include "strategies/small_vector.hpp"

#include <cstddef>

namespace allocproof::strategies {

class small_vector_strategy {
public:
    static constexpr strategy_traits traits{
        .name = "small_vector",
        .summary = "own small vector: N elements inline, spills to std::allocator (doubling)",
        .origin = "seed 003 (Lightning DB SmallVec<[KeyEntry; 8]>)",
        .provides_blocks = false,
        .provides_vector = true,
        .thread_safe = false,
    };

    template <class T, std::size_t N>
    using vector = ::allocproof::small_vector<T, N>;
};

}  // namespace allocproof::strategies

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::small_vector_strategy)
