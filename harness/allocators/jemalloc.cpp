// The cell program's allocator is jemalloc (Debian's libjemalloc, unprefixed: it is malloc).
#include "harness/allocator_identity.hpp"

#include <jemalloc/jemalloc.h>

#include <cstdint>
#include <cstdlib>

namespace allocproof {

allocator_identity identify_global_allocator() {
    allocator_identity id;
    id.name = "jemalloc";
    const char* version = nullptr;
    std::size_t length = sizeof version;
    if (mallctl("version", &version, &length, nullptr, 0) == 0 && version != nullptr) {
        id.version = version;
    }
    id.malloc_provider = malloc_provider();
    // jemalloc counts what it hands to each thread; a malloc it serves moves the count.
    auto allocated = [] {
        std::uint64_t bytes = 0;
        std::size_t size = sizeof bytes;
        return mallctl("thread.allocated", &bytes, &size, nullptr, 0) == 0 ? bytes : 0;
    };
    std::uint64_t before = allocated();
    void* volatile block = std::malloc(4000);
    std::uint64_t after = allocated();
    std::free(block);
    id.serves_malloc = after >= before + 4000;
    id.evidence = "mallctl thread.allocated grew by a malloc'd block";
    return id;
}

}  // namespace allocproof
