#include "allocproof/alloc_counters.hpp"

#include <algorithm>

namespace allocproof {

namespace detail {
constinit thread_local alloc_counts thread_alloc_counts{};
constinit thread_local std::int64_t thread_held_peak = 0;
constinit bool alloc_counting_enabled = true;
}  // namespace detail

alloc_counts this_thread_alloc_counts() { return detail::thread_alloc_counts; }

namespace {
std::int64_t held_now() {
    return static_cast<std::int64_t>(detail::thread_alloc_counts.bytes_requested -
                                     detail::thread_alloc_counts.bytes_released);
}
}  // namespace

std::int64_t this_thread_held_peak() { return std::max(detail::thread_held_peak, held_now()); }

void reset_this_thread_held_peak() { detail::thread_held_peak = held_now(); }

void set_alloc_counting(bool enabled) { detail::alloc_counting_enabled = enabled; }

}  // namespace allocproof
