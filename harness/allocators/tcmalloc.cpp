// The cell program's allocator is tcmalloc (gperftools' libtcmalloc_minimal: no profiler hooks).
#include "harness/allocator_identity.hpp"

#include <gperftools/malloc_extension_c.h>
#include <gperftools/tcmalloc.h>

#include <cstdlib>

namespace allocproof {

allocator_identity identify_global_allocator() {
    allocator_identity id;
    id.name = "tcmalloc";
    int major = 0, minor = 0;
    const char* patch = nullptr;
    const char* version = tc_version(&major, &minor, &patch);
    id.version = version != nullptr ? version : "unknown";
    id.malloc_provider = malloc_provider();
    void* volatile block = std::malloc(4000);
    id.serves_malloc = MallocExtension_GetOwnership(block) == MallocExtension_kOwned;
    std::free(block);
    id.evidence = "MallocExtension_GetOwnership on a malloc'd block";
    return id;
}

}  // namespace allocproof
