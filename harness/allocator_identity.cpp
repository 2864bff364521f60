#include "harness/allocator_identity.hpp"

#include <dlfcn.h>

namespace allocproof {

std::string malloc_provider() {
    void* symbol = dlsym(RTLD_DEFAULT, "malloc");
    Dl_info info{};
    if (symbol == nullptr || dladdr(symbol, &info) == 0 || info.dli_fname == nullptr) {
        return "unknown";
    }
    return info.dli_fname;
}

bool sanitizer_owns_malloc() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return true;
#else
    return false;
#endif
}

}  // namespace allocproof
