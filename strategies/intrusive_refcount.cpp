// intrusive_refcount — immutable byte buffers shared by an intrusive, non-atomic reference count:
// the count sits in the block with the bytes, and copies and slices bump it with a plain add
// (allocproof::intrusive_refcount_buffer, strategies/shared_buffer.hpp).
//
// Contract: buffers family only. As shared_bytes (one allocation from global operator new per
// copy_of, bytes 16-byte aligned, zero-copy slices, the last holder frees), but single-thread:
// every holder of one block must be copied and destroyed on one thread at a time.
//
// Models seed 000 (Mojo-Grizzly): "Implemented RefCounted[T] generic struct for shared data.
// Tracks reference count with retain and release methods. Enables safe sharing of columns across
// tables without copies" (claim G0-2); the count is not atomic there either.
//
// Measurement trap: against shared_bytes this isolates the price of the atomic count (one
// lock-prefixed add per retain and per release); both allocate and copy exactly the same.
#include "harness/register.hpp"
#include "allocproof/strategy.hpp"
#include "strategies/shared_buffer.hpp"

namespace allocproof::strategies {

class intrusive_refcount {
public:
    static constexpr strategy_traits traits{
        .name = "intrusive_refcount",
        .summary = "single-thread refcounted bytes: plain count in the block, zero-copy slices",
        .origin = "seed 000 (Mojo-Grizzly RefCounted[T])",
        .provides_blocks = false,
        .provides_buffers = true,
        .thread_safe = false,
    };

    using buffer = ::allocproof::intrusive_refcount_buffer;
};

}  // namespace allocproof::strategies

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::intrusive_refcount)
