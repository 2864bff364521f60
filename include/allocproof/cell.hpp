// allocproof — one cell: a workload run with one strategy, at one thread count, in one process.
#pragma once

#include "allocproof/workload.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace allocproof {

struct cell_request {
    std::string workload;
    std::string strategy;
    workload_params params;
    std::uint64_t sample_every = 256;    // time one operation in this many (a power of two)
    std::uint64_t timeline_points = 32;  // memory readings spread over the measured phase
    std::uint64_t dirty_heap_bytes = 0;  // per thread, before setup; 0: a fresh heap
};

// One reading of the memory timeline, taken when each thread had done `ops_done` operations.
struct timeline_point {
    std::uint64_t ops_done = 0;               // per thread, since the measured phase began
    std::uint64_t elapsed_ns = 0;             // on thread 0
    std::uint64_t rss_bytes = 0;              // the whole process
    std::optional<std::uint64_t> live_bytes;  // the workload's own count, summed over threads
};

// What the cell measured, before any statistics. Units are in the names.
struct cell_measurement {
    unsigned threads = 1;
    std::uint64_t ops_per_thread = 0;
    std::uint64_t wall_ns = 0;   // barrier release to the last thread's end
    std::uint64_t cpu_ns = 0;    // measured phase, summed over the worker threads
    std::uint64_t setup_ns = 0;  // building the starting state and warming up
    // What the clock of the measured phase does not see. teardown_ns: from the end of the phase
    // until the workers and the shared state are torn down (a strategy's destructor runs there).
    // process_cpu_ns: CPU time of the whole process over the phase, every thread of it; beyond
    // cpu_ns, it is work done on threads that are not the workers (a strategy's own thread).
    std::uint64_t teardown_ns = 0;
    std::uint64_t process_cpu_ns = 0;
    std::vector<std::uint64_t> latency_buckets;  // log-linear histogram, see latency_histogram
    std::uint64_t latency_max_ns = 0;
    std::uint64_t alloc_calls = 0;  // global operator new calls in the measured phase
    std::uint64_t free_calls = 0;   // global operator delete calls in the measured phase
    std::uint64_t bytes_requested = 0;
    std::uint64_t rss_before_setup_bytes = 0;
    std::uint64_t rss_end_of_measure_bytes = 0;
    std::uint64_t rss_final_bytes = 0;  // after the workload tore down its state
    // Resident memory at the end of the phase that operator new does not explain: its growth since
    // before setup minus what the workers and the main thread held through the counted operator new
    // at that moment (requested - released since the cell started), at least 0. Memory a strategy
    // maps itself, or takes on a thread of its own, shows here; so do the allocator's own overheads.
    std::uint64_t rss_unexplained_bytes = 0;
    std::uint64_t live_bytes_peak = 0;  // the workload's own count, summed over threads
    // Memory while it is held, not after it was freed: the process's resident high-water mark over
    // the measured phase alone (empty where the kernel would not reset the mark), and the most
    // bytes the worker threads held from the global allocator at once in that phase (a strategy's
    // blocks, with whatever it keeps unused; summed over threads, so exact only at 1 thread).
    std::optional<std::uint64_t> rss_peak_of_measure_bytes;
    std::uint64_t global_bytes_held_peak = 0;
    // What was left allocated from the global allocator when the cell ended: operator new calls
    // minus delete calls, and bytes (a lower bound: see alloc_counts), from before the workload's
    // state was built to after it was torn down, over all threads. Non-zero blocks: a leak.
    std::int64_t leaked_blocks = 0;
    std::int64_t leaked_bytes = 0;
    std::optional<std::uint64_t> instructions;  // user-space, summed over threads
    std::optional<std::uint64_t> cycles;
    // Bytes the workload copied from one place in memory to another in the measured phase, by its
    // own count (memtable_wal's bytes_copied()), summed over threads; empty when it keeps none.
    std::optional<std::uint64_t> bytes_copied;
    std::vector<timeline_point> timeline;
    std::uint64_t digest = 0;
};

}  // namespace allocproof
