// pmr_monotonic — std::pmr::monotonic_buffer_resource; the class and its contract are in
// strategies/pmr_monotonic.hpp (a header, so that tests can reach reset()).
#include "strategies/pmr_monotonic.hpp"

#include "harness/register.hpp"

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::pmr_monotonic)
