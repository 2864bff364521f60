// arena — single-thread bump arena: blocks are carved one after another out of chunks taken from
// the global allocator, and all freed at once by reset().
//
// Contract: NOT thread-safe (one instance per thread); deallocate() is a no-op whose memory comes
// back only at reset() (frees_individually = false); any size; alignment: the block_spec's (any
// power of two; traits promise 64). Chunks come from ::operator new: 4 KiB first, doubling up to
// 1 MiB (a request too big for the next chunk makes it the power of two that holds it); a request
// too big for 1 MiB gets a chunk of its own, behind the current one.
// reset() gives every chunk but the largest (the newest) back to ::operator delete, so a reused
// arena neither grows for ever nor starts from nothing. Statistics (statistics()): bytes handed out since the
// last reset (padding included), chunks and bytes held, chunks taken and given back; they are
// derived from the bump pointer on the slow path, so the bump path counts nothing.
//
// Models: seed 002 (Agrama ArenaManager hands out Zig std.heap.ArenaAllocator: "scoped operations
// with automatic cleanup"; its release deinit()s the arena, which gives every chunk back) and seed
// 003 (Lightning DB: bumpalo for batch operations). Like bumpalo's Bump::reset, reset() keeps the
// newest, largest chunk, so that repeated operations of one size settle into one chunk and make
// no global allocator call; the price is that an arena that once served a big operation holds
// that chunk until it is destroyed. The pooled variant, whose chunks go to a store instead of the global allocator, is
// `arena_pool`.
//
// Measurement traps:
//   * batch_10k is this strategy's one micro pattern: 10,000 bumps, then reset(). Once the kept
//     chunk holds a whole batch, a batch makes no global allocator call. Keeping the first,
//     smallest chunk instead (an earlier version) returned six chunks per batch, and on glibc
//     that depended on what ran before in the same process: glibc raises its mmap and trim
//     thresholds each time a block it had mmapped is freed, and run alone the batch had glibc
//     trim the heap top and fault the pages back in every time (about 300 us per batch instead
//     of 15 us, 180,000 page faults in 0.3 s).
//   * A no-op free is not a faster free: an arena's memory grows until reset, which is why node
//     churn and other workloads that free single blocks are not paired with it.
//   * Under AddressSanitizer the bump path poisons and unpoisons; timing such a build is
//     meaningless.
#include "strategies/arena.hpp"

#include "harness/register.hpp"

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::arena)
