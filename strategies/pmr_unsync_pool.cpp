// pmr_unsync_pool — std::pmr::unsynchronized_pool_resource of the libstdc++ the build uses
// (g++ 12: libstdc++ 12), over new_delete_resource(): the standard library's own pool, the one a
// C++17 program gets without a dependency.
//
// Contract: any block size (not fixed-size: the resource keeps pools for 8 B .. 4 KiB and serves
// larger blocks from upstream), frees individually, NOT thread-safe (the standard says so: one
// instance per thread), alignment up to alignof(std::max_align_t). Memory: chunks from
// ::operator new (aligned new for block sizes above 16 B: a chunk is aligned to its block size
// rounded up to a power of two), returned only when the instance is destroyed.
//
// How libstdc++ 12 does it (src/c++17/memory_resource.cc), which the figures reflect:
//   * one pool per size class (8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 192, 256, ... 4096);
//     a request goes to the smallest class >= max(bytes, alignment): 1000 B uses 1024 B blocks;
//   * a pool is a vector of chunks, each with a bitmap of its blocks; chunk sizes double (15 blocks
//     of 64 B at first, up to 16,384 blocks);
//   * allocate takes the lowest free bit of the NEWEST chunk; only when it is full does it walk the
//     chunks from the first, so freed blocks in older chunks wait until the newest chunk fills,
//     then each allocation walks the chunk list and scans bitmap words forward to the next hole;
//   * deallocate checks the newest chunk, then binary-searches the chunks (sorted by address);
//   * blocks above 4 KiB are not pooled: each is kept in one address-sorted vector, so allocate
//     and deallocate of such a block move O(live big blocks) entries (an insert and an erase).
// Reuse is address-ordered (lowest free block first), not last-in first-out.
//
// Measurement traps: replace_10k (free one at random, allocate one) is this design's bad case: the
// newest chunk fills first, then every allocation walks the chunk list and the bitmap words, a cost
// that grows with the live set. The micro patterns run 64 B and 256 B blocks; none of them reaches
// the unpooled path above 4 KiB, whose cost per call is linear in the number of live big blocks
// (seed 001's 8 KB query blocks would reach it). The resource is reached by a direct call; through
// a memory_resource* it costs one more indirect call (see pmr_blocks.hpp).
#include "harness/register.hpp"
#include "allocproof/strategy.hpp"
#include "strategies/pmr_blocks.hpp"

#include <memory_resource>

namespace allocproof::strategies {

class pmr_unsync_pool : public pmr_blocks<std::pmr::unsynchronized_pool_resource> {
public:
    static constexpr strategy_traits traits{
        .name = "pmr_unsync_pool",
        .summary = "std::pmr::unsynchronized_pool_resource over new_delete_resource (single-thread)",
        .origin = ALLOCPROOF_PMR_ORIGIN("unsynchronized_pool_resource"),
        .frees_individually = true,
        .thread_safe = false,
        .cross_thread_free = false,
        .fixed_size = false,
    };

    using pmr_blocks::pmr_blocks;
};

}  // namespace allocproof::strategies

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::pmr_unsync_pool)
