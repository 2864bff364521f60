// The cell program's allocator is glibc's malloc: no allocator library is linked.
#include "harness/allocator_identity.hpp"

#include <gnu/libc-version.h>
#include <malloc.h>

#include <cstdlib>

namespace allocproof {

allocator_identity identify_global_allocator() {
    allocator_identity id;
    id.name = "glibc";
    id.version = gnu_get_libc_version();
    id.malloc_provider = malloc_provider();
    if (sanitizer_owns_malloc()) {
        id.serves_malloc = true;
        id.evidence = "sanitizer build: malloc is the sanitizer's (" + id.malloc_provider + ")";
        return id;
    }
    // glibc's own statistics must see a block that malloc hands out.
    struct mallinfo2 before = mallinfo2();
    void* volatile block = std::malloc(4000);
    struct mallinfo2 after = mallinfo2();
    std::free(block);
    id.serves_malloc =
        after.uordblks >= before.uordblks + 4000 && id.malloc_provider.find("libc.so") != std::string::npos;
    id.evidence = "mallinfo2 in-use bytes grew by a malloc'd block; malloc resolves to libc";
    return id;
}

}  // namespace allocproof
