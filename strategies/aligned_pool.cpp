// aligned_pool — single-thread pool of fixed-size blocks aligned for SIMD: float32 embedding
// vectors read with 32-byte (AVX2) or 64-byte (AVX-512, one cache line) loads.
//
// Contract: one block size per instance (block_spec::size rounded up to the alignment), frees
// individually, NOT thread-safe (one instance per thread). Alignment: the block_spec's, raised to
// at least 32; up to 64 (a larger one is refused at construction). Released blocks go on an
// intrusive free list and are reused last in first out; fresh blocks are carved from a bump arena
// (strategies/arena.hpp) whose chunks come from ::operator new (4 KiB doubling to 1 MiB) and go
// back only when the pool is destroyed. Option zero_on_release (default on, as in the seed):
// a released block is wiped before it goes on the free list, and every block handed out reads
// as zeros (fresh ones are zeroed when carved). Statistics: allocations, reuses, live blocks,
// and the carving arena's chunks.
//
// Models: seed 002 (Agrama EmbeddingPool: AlignedBlock "32-byte aligned for AVX2",
// releaseEmbedding "@memset(..., 0) for security", then the block back on a free list). Unlike
// the seed's pool, which pre-allocates max_embeddings_per_pool (100) blocks and returns null when
// they are all out, this one grows: a refusal would measure the pool's size, not its speed.
//
// Measurement traps:
//   * Zeroing costs a memset of the whole block per release (and per fresh block): at 64 B it is
//     noise, at embedding sizes (1.5 KiB for 384 floats, 6 KiB for 1536) it dominates the pair.
//     Compare with zero_on_release off before crediting or blaming the pool.
//   * The alignment's benefit is in the distance kernels (claim A2-5), not in the allocation:
//     glibc's malloc already returns 16-byte aligned blocks, and at 64 B the rounded block is
//     the same size.
//   * Each chunk loses its 16-byte header and up to alignment - 16 bytes of padding; with large
//     blocks the first, small chunks hold only a few (a 4 KiB chunk holds three 1 KiB blocks).
#include "strategies/aligned_pool.hpp"

#include "harness/register.hpp"

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::aligned_pool)
