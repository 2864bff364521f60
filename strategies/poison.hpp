// Making a strategy's held memory visible to AddressSanitizer.
//
// A pool keeps blocks that no one owns (freed, or not yet handed out). Poisoning them means a
// workload's use after free inside a pool is caught as it would be inside malloc. In builds
// without ASan these are no-ops and cost nothing.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace allocproof {

inline void poison_memory(const void* begin, std::size_t bytes) {
#if defined(__SANITIZE_ADDRESS__)
    ASAN_POISON_MEMORY_REGION(begin, bytes);
#else
    (void)begin;
    (void)bytes;
#endif
}

inline void unpoison_memory(const void* begin, std::size_t bytes) {
#if defined(__SANITIZE_ADDRESS__)
    ASAN_UNPOISON_MEMORY_REGION(begin, bytes);
#else
    (void)begin;
    (void)bytes;
#endif
}

}  // namespace allocproof
