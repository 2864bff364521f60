// pmr_monotonic — std::pmr::monotonic_buffer_resource of the libstdc++ the build uses (g++ 12:
// libstdc++ 12), over new_delete_resource(): the standard library's arena. In a header so that
// tests can call reset(), which the registry's type-erased interface does not offer; the strategy
// is registered in pmr_monotonic.cpp.
//
// Contract: any block size, does NOT free individually (deallocate is a no-op, as the resource's
// own do_deallocate is; under ASan it poisons the block), reset() = release(): every buffer goes
// back upstream at once. NOT thread-safe. Alignment up to alignof(std::max_align_t) (the resource
// itself honours any). Memory: buffers from ::operator new, the first of 1 KiB (128 pointers),
// each next one 1.5x the previous, or the request if larger (libstdc++ 12, <memory_resource>).
//
// What it models: the arenas of the seeds (seed 002's "Arena Pools for scoped operations with
// automatic cleanup", seed 003's bumpalo arenas for batch operations) as the standard library
// ships one. Unlike seed 003's ArenaPool, which reuses bump allocators across operations,
// release() keeps no buffer.
//
// Measurement traps: release() gives every buffer back to upstream and restarts the growth at
// 1 KiB, so a reset-per-batch cycle pays the upstream allocator again on every cycle: about
// log1.5(batch bytes / 1 KiB) + 1 operator new/delete pairs per cycle (batch_10k: 15 at 64 B,
// the largest 292 KiB; 18 at 256 B, the largest 985 KiB). A program that wants the buffers kept
// gives the resource an initial buffer of its own; this strategy measures the resource as
// constructed by default. Bump allocation goes through std::align on every call.
#pragma once

#include "allocproof/strategy.hpp"
#include "strategies/pmr_blocks.hpp"

#include <memory_resource>

namespace allocproof::strategies {

class pmr_monotonic : public pmr_blocks<std::pmr::monotonic_buffer_resource> {
public:
    static constexpr strategy_traits traits{
        .name = "pmr_monotonic",
        .summary = "std::pmr::monotonic_buffer_resource over new_delete_resource; reset() = release()",
        .origin = ALLOCPROOF_PMR_ORIGIN("monotonic_buffer_resource"),
        .frees_individually = false,
        .thread_safe = false,
        .cross_thread_free = false,
        .fixed_size = false,
    };

    using pmr_blocks::pmr_blocks;

    void reset() { resource().release(); }
};

}  // namespace allocproof::strategies
