#include "harness/alloc_counters.hpp"

namespace allocproof {

namespace detail {
constinit thread_local alloc_counts thread_alloc_counts{};
constinit bool alloc_counting_enabled = true;
}  // namespace detail

alloc_counts this_thread_alloc_counts() { return detail::thread_alloc_counts; }

void set_alloc_counting(bool enabled) { detail::alloc_counting_enabled = enabled; }

}  // namespace allocproof
