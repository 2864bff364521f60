// arena — single-thread bump arena: blocks are carved one after another out of chunks taken from
// the global allocator, and all freed at once by reset().
//
// Contract: NOT thread-safe (one instance per thread); deallocate() is a no-op whose memory comes
// back only at reset() (frees_individually = false); any size; alignment: the block_spec's (any
// power of two; traits promise 64). Chunks come from ::operator new: 4 KiB first, doubling up to
// 1 MiB (a request too big for the next chunk makes it the power of two that holds it); a request
// too big for 1 MiB gets a chunk of its own, behind the current one.
// reset() gives every chunk but the first back to ::operator delete, so a reused arena neither
// grows for ever nor starts from nothing. Statistics (statistics()): allocations and bytes
// requested since the last reset, chunks and bytes held, chunks taken and given back.
//
// Models: seed 002 (Agrama ArenaManager hands out Zig std.heap.ArenaAllocator: "scoped operations
// with automatic cleanup"; its release deinit()s the arena, which gives every chunk back) and seed
// 003 (Lightning DB: bumpalo for batch operations). The pooled variant, whose chunks go to a store
// instead of the global allocator, is `arena_pool`.
//
// Measurement traps:
//   * batch_10k is this strategy's one micro pattern: 10,000 bumps, then reset(). Its cost per
//     pair includes the chunks that reset() returns and the next batch takes again (seven chunks
//     of 8 KiB .. 512 KiB at 64 B blocks): the global allocator's large-block path (glibc's
//     mmap threshold and heap trimming) shows up here, not in the bump.
//   * A no-op free is not a faster free: an arena's memory grows until reset, which is why node
//     churn and other workloads that free single blocks are not paired with it.
//   * Under AddressSanitizer the bump path poisons and unpoisons; timing such a build is
//     meaningless.
#include "strategies/arena.hpp"

#include "allocproof/register.hpp"

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::arena)
