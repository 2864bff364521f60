// What the two Boost.Pool peers (boost_pool, boost_fast_pool) share: Boost.Pool keeps its free
// list inside the free chunks themselves (simple_segregated_storage: the first pointer of a free
// chunk links to the next), so only the rest of a free chunk can be poisoned for AddressSanitizer.
//
// Order matters with a shared, locked pool (singleton_pool): a chunk is poisoned BEFORE it is given
// back, while it is still ours; poisoning it after free() would race with another thread that has
// already been handed the chunk. Chunks Boost has carved out but never handed out are not poisoned:
// Boost writes a link into every one of them when it segregates a new block.
#pragma once

#include "strategies/poison.hpp"

#include <cstddef>
#include <new>

namespace allocproof::strategies::boost_free_list {

inline constexpr std::size_t link_bytes = sizeof(void*);

// A chunk Boost just handed out: all of it is the caller's. Boost returns null only when its
// user allocator (new (std::nothrow) char[]) failed; a blocks strategy that may not refuse throws.
inline void* handed_out(void* chunk, std::size_t chunk_bytes) {
    if (chunk == nullptr) [[unlikely]] {
        throw std::bad_alloc();
    }
    unpoison_memory(chunk, chunk_bytes);
    return chunk;
}

// A chunk about to be given back: everything past the link Boost will write is off limits.
inline void giving_back(void* chunk, std::size_t chunk_bytes) {
    poison_memory(static_cast<std::byte*>(chunk) + link_bytes, chunk_bytes - link_bytes);
}

}  // namespace allocproof::strategies::boost_free_list
