// The global operator new / delete of every cell program: count, then go to malloc / free of the
// global allocator this program was linked with.
//
// Measurement trap, written down: allocators that ship their own operator new (tcmalloc) or a
// sized free (jemalloc's sdallocx) are reached through plain malloc/free here, the same path for
// all four, so differences between them are differences of their malloc and free.
#include "allocproof/alloc_counters.hpp"

#include <malloc.h>

#include <cstdlib>
#include <new>

namespace {

using allocproof::detail::alloc_counting_enabled;
using allocproof::detail::thread_alloc_counts;
using allocproof::detail::thread_held_peak;

inline void count_allocation(std::size_t bytes) {
    if (alloc_counting_enabled) {
        ++thread_alloc_counts.allocations;
        thread_alloc_counts.bytes_requested += bytes;
        // Only allocations can raise the peak, so a free costs no comparison.
        const auto held =
            static_cast<std::int64_t>(thread_alloc_counts.bytes_requested - thread_alloc_counts.bytes_released);
        thread_held_peak = held > thread_held_peak ? held : thread_held_peak;
    }
}

inline void count_deallocation(void* block, std::size_t bytes) {
    if (alloc_counting_enabled && block != nullptr) {
        ++thread_alloc_counts.deallocations;
        thread_alloc_counts.bytes_released += bytes;
    }
}

void* allocate_or_null(std::size_t bytes) {
    count_allocation(bytes);
    return std::malloc(bytes == 0 ? 1 : bytes);
}

void* allocate_aligned_or_null(std::size_t bytes, std::align_val_t alignment) {
    count_allocation(bytes);
    auto align = static_cast<std::size_t>(alignment);
    // aligned_alloc wants a size that is a multiple of the alignment.
    std::size_t rounded = (bytes + align - 1) / align * align;
    return std::aligned_alloc(align, rounded == 0 ? align : rounded);
}

void* allocate_or_throw(std::size_t bytes) {
    if (void* block = allocate_or_null(bytes)) {
        return block;
    }
    throw std::bad_alloc();
}

void* allocate_aligned_or_throw(std::size_t bytes, std::align_val_t alignment) {
    if (void* block = allocate_aligned_or_null(bytes, alignment)) {
        return block;
    }
    throw std::bad_alloc();
}

void release(void* block, std::size_t bytes) noexcept {
    count_deallocation(block, bytes);
    std::free(block);
}

// An unsized delete: the allocator's usable size stands in for the size (see alloc_counts).
void release(void* block) noexcept {
    release(block, alloc_counting_enabled && block != nullptr ? malloc_usable_size(block) : 0);
}

}  // namespace

void* operator new(std::size_t n) { return allocate_or_throw(n); }
void* operator new[](std::size_t n) { return allocate_or_throw(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return allocate_or_null(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return allocate_or_null(n); }
void* operator new(std::size_t n, std::align_val_t a) { return allocate_aligned_or_throw(n, a); }
void* operator new[](std::size_t n, std::align_val_t a) { return allocate_aligned_or_throw(n, a); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return allocate_aligned_or_null(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return allocate_aligned_or_null(n, a);
}

void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t n) noexcept { release(p, n); }
void operator delete[](void* p, std::size_t n) noexcept { release(p, n); }
void operator delete(void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete(void* p, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, std::size_t n, std::align_val_t) noexcept { release(p, n); }
void operator delete[](void* p, std::size_t n, std::align_val_t) noexcept { release(p, n); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { release(p); }
