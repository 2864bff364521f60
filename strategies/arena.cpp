// arena — single-thread bump arena: blocks are carved one after another out of chunks taken from
// the global allocator, and all freed at once by reset().
//
// Contract: NOT thread-safe (one instance per thread); deallocate() is a no-op whose memory comes
// back only at reset() (frees_individually = false); any size; alignment: the block_spec's (any
// power of two; traits promise 64). Chunks come from ::operator new: 4 KiB first, doubling up to
// 1 MiB (a request too big for the next chunk makes it the power of two that holds it); a request
// too big for 1 MiB gets a chunk of its own, behind the current one.
// reset() gives every chunk but the first back to ::operator delete, so a reused arena neither
// grows for ever nor starts from nothing. Statistics (statistics()): bytes handed out since the
// last reset (padding included), chunks and bytes held, chunks taken and given back; they are
// derived from the bump pointer on the slow path, so the bump path counts nothing.
//
// Models: seed 002 (Agrama ArenaManager hands out Zig std.heap.ArenaAllocator: "scoped operations
// with automatic cleanup"; its release deinit()s the arena, which gives every chunk back) and seed
// 003 (Lightning DB: bumpalo for batch operations). bumpalo's Bump::reset keeps its current
// (newest, largest) chunk; this one keeps the first, smallest, so that an arena that once served
// a big operation does not hold its memory, and repeated big operations pay for their chunks
// each time. The pooled variant, whose chunks go to a store instead of the global allocator, is
// `arena_pool`.
//
// Measurement traps:
//   * batch_10k is this strategy's one micro pattern: 10,000 bumps, then reset(). Its cost per
//     pair includes the chunks that reset() returns and the next batch takes again (seven chunks
//     of 8 KiB .. 512 KiB at 64 B blocks, nine at 256 B): the global allocator's large-block path
//     shows up here, not in the bump. On glibc it depends on what ran before in the same process:
//     glibc raises its mmap threshold (and with it its trim threshold) each time a block it had
//     mmapped is freed. Run alone, batch_10k/arena/64 has glibc trim the heap top and fault the
//     pages in again every batch (about 300 us per batch here, 180,000 page faults in 0.3 s);
//     after benchmarks that freed larger mmapped blocks, the same batch takes 15 us. jemalloc,
//     mimalloc and tcmalloc keep the chunks (15-25 us). `arena_pool` does not depend on it.
//   * A no-op free is not a faster free: an arena's memory grows until reset, which is why node
//     churn and other workloads that free single blocks are not paired with it.
//   * Under AddressSanitizer the bump path poisons and unpoisons; timing such a build is
//     meaningless.
#include "strategies/arena.hpp"

#include "allocproof/register.hpp"

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::arena)
