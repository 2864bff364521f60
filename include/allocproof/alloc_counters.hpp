// Counting calls into the global allocator.
//
// Layer: C++ global operator new / operator delete, replaced in every cell program
// (harness/counting_new.cpp). Every strategy takes its memory there, and libstdc++ containers do
// too, so these counts are "calls a C++ program makes into the global allocator". Calls that go
// straight to malloc() from C code are not counted.
//
// Counters are per thread and written only by their own thread, with no atomics: a worker reads
// its own counters before and after the measured phase. The cost of counting is measured in every
// cell (probe_cost) and reported beside the figures.
#pragma once

#include <cstdint>

namespace allocproof {

struct alloc_counts {
    std::uint64_t allocations = 0;
    std::uint64_t deallocations = 0;
    std::uint64_t bytes_requested = 0;
    // The size a sized delete passes; for an unsized one the allocator's usable size, which can
    // exceed what was asked for. So bytes_requested - bytes_released over a span that ends with
    // everything freed is a lower bound of the bytes left allocated (exact when every free is
    // sized, as std containers' and delete-expressions' are).
    std::uint64_t bytes_released = 0;
};

alloc_counts this_thread_alloc_counts();

// The most bytes this thread held from the global allocator at once (requested minus released,
// counted from the thread's start) since the last reset, which sets it to what it holds now.
// A block freed by another thread lowers that thread's count, not this one's: exact at 1 thread.
std::int64_t this_thread_held_peak();
void reset_this_thread_held_peak();

// Counting is on by default; the probe-cost calibration turns it off for a moment to measure it.
void set_alloc_counting(bool enabled);

namespace detail {
extern constinit thread_local alloc_counts thread_alloc_counts;
extern constinit thread_local std::int64_t thread_held_peak;
extern constinit bool alloc_counting_enabled;
}  // namespace detail

}  // namespace allocproof
