// shared_bytes — immutable byte buffers with zero-copy slices: one allocation holds an atomic
// reference count and the bytes; slices and copies point into it and share the count
// (allocproof::shared_bytes_buffer, strategies/shared_buffer.hpp).
//
// Contract: buffers family only. copy_of() allocates once (global operator new, 16 bytes of
// header + the bytes, which start 16-byte aligned) and copies once; slice() and copies allocate
// and copy nothing; the last holder frees the block. Thread-safe as std::shared_ptr is: holders
// of one block may be copied and destroyed on any threads (atomic count), the bytes are
// read-only. A holder is 3 words (block, data, size).
//
// Models seed 003 (Lightning DB): "Replaced Vec<u8> with Bytes in core data structures ... Shared
// memory across clones via reference counting ... ~25-35% reduction in memory bandwidth usage"
// (claim L3-5). Rust's Bytes keeps its count in a separate Shared header allocation for
// Vec-backed buffers; this keeps one allocation, as a buffer built by copy_of can.
//
// Measurement traps: the saving grows with the bytes a slice would have copied (buffer_slices
// 65536 vs 4096); what remains is the atomic increment and decrement per slice, an uncontended
// lock-prefixed instruction each, which becomes cache-line ping-pong when threads share a block.
// A slice keeps its whole parent alive: memory held can exceed the bytes still in use.
#include "harness/register.hpp"
#include "allocproof/strategy.hpp"
#include "strategies/shared_buffer.hpp"

namespace allocproof::strategies {

class shared_bytes {
public:
    static constexpr strategy_traits traits{
        .name = "shared_bytes",
        .summary = "refcounted immutable bytes: one block (atomic count + bytes), zero-copy slices",
        .origin = "seed 003 (Lightning DB Bytes)",
        .provides_blocks = false,
        .provides_buffers = true,
        .thread_safe = true,
        .cross_thread_free = true,
    };

    using buffer = ::allocproof::shared_bytes_buffer;
};

}  // namespace allocproof::strategies

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::shared_bytes)
