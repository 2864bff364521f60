#include "harness/micro_registry.hpp"

namespace allocproof {

micro_registry& micro_registry::instance() {
    static micro_registry the_registry;
    return the_registry;
}

}  // namespace allocproof
