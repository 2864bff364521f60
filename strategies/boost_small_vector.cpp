// boost_small_vector — the peer of small_vector: boost::container::small_vector<T, N> from
// Boost.Container 1.74 (header-only), used through its public API only.
//
// Contract: vector family only. One thread per instance; no allocation while size() <= N; past
// N, memory from boost's new_allocator (global operator new). Boost grows by 60% by default
// (growth_factor_60), so a vector filled one element at a time past N allocates more often than
// one that doubles: vector_fill/20 with N = 8 allocates at 8 -> 12 -> 19 -> 30 here (three
// times) where a doubling vector allocates twice.
//
// Models the same seed text as small_vector (seed 003, SmallVec, claim L3-1): it is the
// established implementation that ours is held to (vector_fill within 1.1x of it).
#include "harness/register.hpp"
#include "allocproof/strategy.hpp"

#include <boost/container/small_vector.hpp>

#include <cstddef>

namespace allocproof::strategies {

class boost_small_vector {
public:
    static constexpr strategy_traits traits{
        .name = "boost_small_vector",
        .summary = "boost::container::small_vector<T, N> (60% growth past N)",
        .origin = "Boost.Container 1.74",
        .provides_blocks = false,
        .provides_vector = true,
        .thread_safe = false,
    };

    template <class T, std::size_t N>
    using vector = boost::container::small_vector<T, N>;
};

}  // namespace allocproof::strategies

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::boost_small_vector)
