// fixed_pool_stats — fixed_pool with the usage tracking of the seeds: blocks acquired and
// released, live and peak live, capacity (blocks held), utilisation (live / capacity) and hit
// rate (allocations served without taking a new chunk / all allocations), read by stats() as a
// plain fixed_pool_statistics struct (basic_fixed_pool<true> in strategies/fixed_pool.hpp).
//
// Contract: as fixed_pool — one block size per instance, frees individually, NOT thread-safe,
// any power-of-two alignment up to 4096, chunks from ::operator new freed on destruction.
//
// Models: seed 001's pool statistics ("real-time tracking of allocation counts, memory usage, and
// peak usage ... minimal performance impact (<1%)", claim P1-2) and seed 002's PoolStats
// (total_allocated, total_freed, peak_usage, total_capacity, utilizationRate; hit rate, A2-6).
// Compare it with fixed_pool to measure what tracking costs.
//
// How the counting stays cheap: the hot path adds exactly two plain increments per pair
// (acquired, released) and nothing else. Peak live, capacity and chunk count are derived in the
// slow path (see strategies/fixed_pool.hpp). Seed 002 counts with atomic fetchAdd and a peak
// update on every acquire, which costs more; this strategy measures the cheap way to track, so a
// refuted P1-2 here means tracking cannot be made cheap enough, not that it was done badly.
//
// Measurement traps: the counters are not atomic: stats() must be called by the owning thread.
// In one_live the increments are a measurable share of a few-instruction pair; in a workload that
// touches its blocks they disappear into the noise.
#include "harness/register.hpp"
#include "allocproof/strategy.hpp"
#include "strategies/fixed_pool.hpp"

namespace allocproof::strategies {

class fixed_pool_stats final : public basic_fixed_pool<true> {
public:
    static constexpr strategy_traits traits{
        .name = "fixed_pool_stats",
        .summary = "fixed_pool with usage statistics: acquired, released, peak, capacity, hit rate",
        .origin = "seed 001 (PL-GRIZZLY pool statistics); seed 002 (Agrama PoolStats)",
        .frees_individually = true,
        .thread_safe = false,
        .cross_thread_free = false,
        .fixed_size = true,
        .may_refuse = false,
        .max_alignment = 4096,
    };

    using basic_fixed_pool::basic_fixed_pool;
};

}  // namespace allocproof::strategies

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::fixed_pool_stats)
