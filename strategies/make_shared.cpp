// make_shared — the standard library's way to share immutable bytes: std::shared_ptr<std::byte[]>
// made with std::make_shared_for_overwrite, slices sharing its ownership
// (allocproof::make_shared_buffer, strategies/shared_buffer.hpp).
//
// Contract: buffers family only. copy_of() allocates once (shared_ptr's control block and the
// bytes together, from global operator new through std::allocator) and copies once; slices and
// copies allocate and copy nothing; the last holder frees. Thread-safe as std::shared_ptr is. A
// holder is 4 words (shared_ptr's two, data, size).
//
// The peer of shared_bytes and intrusive_refcount (seed 003 Bytes, claim L3-5; seed 000
// RefCounted, claim G0-2): what C++ code gets without writing a buffer type.
//
// Measurement traps: _for_overwrite, not make_shared<std::byte[]>(n), which would zero the bytes
// before copying over them; and shared_ptr counts atomically only once a thread has been started
// (the harness starts one, so this is measured as a server runs it).
#include "harness/register.hpp"
#include "allocproof/strategy.hpp"
#include "strategies/shared_buffer.hpp"

namespace allocproof::strategies {

class make_shared_strategy {
public:
    static constexpr strategy_traits traits{
        .name = "make_shared",
        .summary = "std::shared_ptr<std::byte[]> via make_shared_for_overwrite, shared slices",
        .origin = "C++20 standard library (libstdc++ std::make_shared_for_overwrite)",
        .provides_blocks = false,
        .provides_buffers = true,
        .thread_safe = true,
        .cross_thread_free = true,
    };

    using buffer = ::allocproof::make_shared_buffer;
};

}  // namespace allocproof::strategies

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::make_shared_strategy)
