// The cell program's allocator is mimalloc (Debian's libmimalloc, which overrides malloc).
#include "harness/allocator_identity.hpp"

#include <mimalloc.h>

#include <cstdlib>
#include <string>

namespace allocproof {

allocator_identity identify_global_allocator() {
    allocator_identity id;
    id.name = "mimalloc";
    int v = mi_version();  // 209 is 2.0.9
    id.version = std::to_string(v / 100) + "." + std::to_string(v / 10 % 10) + "." + std::to_string(v % 10);
    id.malloc_provider = malloc_provider();
    void* volatile block = std::malloc(4000);
    id.serves_malloc = mi_is_in_heap_region(block);
    std::free(block);
    id.evidence = "mi_is_in_heap_region on a malloc'd block";
    return id;
}

}  // namespace allocproof
