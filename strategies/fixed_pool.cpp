// fixed_pool — single-thread pool of fixed-size blocks: an intrusive free list threaded through
// freed blocks, refilled by bumping through chunks taken from the global allocator. No
// statistics: the fastest form of the pool (the mechanism is basic_fixed_pool<false> in
// strategies/fixed_pool.hpp).
//
// Contract: one block size per instance (block_spec::size, rounded up to the alignment and to a
// pointer), frees individually, NOT thread-safe (one instance per thread), any power-of-two
// alignment up to 4096. Chunks come from ::operator new (aligned), grow by
// fixed_pool_options::growth_factor (default 2; seed 002 configures 1.5) from 64 blocks, and go
// back only when the pool is destroyed; a freed block is reused last-in first-out.
//
// Models: seed 002's FixedPool (node and search-result pools: O(1) acquire/release from a free
// list, "~0 bytes overhead per object", "zero fragmentation"), and the plain pools of seeds 000
// and 001, without their counters (see fixed_pool_stats for those).
//
// Measurement traps: in one_live, with the pool's state kept in registers, the compiler folds a
// pair into 5 instructions (callgrind); the micro patterns now publish the pool's address so its
// state lives in memory as in a program, and a pair is 8 instructions including the loop. Even
// so the figure is a floor, not what a workload sees, and its time moves with code alignment. The
// pool never returns memory, so after a burst its footprint stays at the peak (A2-4 measures
// memory held / live bytes after churn: this is where it shows).
#include "harness/register.hpp"
#include "allocproof/strategy.hpp"
#include "strategies/fixed_pool.hpp"

namespace allocproof::strategies {

class fixed_pool final : public basic_fixed_pool<false> {
public:
    static constexpr strategy_traits traits{
        .name = "fixed_pool",
        .summary = "single-thread fixed-size pool: intrusive free list over chunks",
        .origin = "seed 002 (Agrama FixedPool); seeds 000, 001",
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

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::fixed_pool)
