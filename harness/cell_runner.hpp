// Runs one cell: workload W with strategy S, on params.threads threads, inside the cell process.
//
// The order of events, per worker thread:
//   build the starting state -> warm-up operations -> barrier (clock starts when the last thread
//   arrives) -> a fixed number of measured operations, one in `sample_every` timed into the
//   latency histogram -> barrier (clock stops when the last thread arrives) -> tear down, digest.
// Fixed work per thread, not fixed time, so every strategy does exactly the same operations and a
// faster strategy simply finishes sooner.
#pragma once

#include "allocproof/cell.hpp"
#include "allocproof/workload.hpp"
#include "harness/alloc_counters.hpp"
#include "harness/latency_histogram.hpp"
#include "harness/thread_probes.hpp"

#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <thread>
#include <vector>

namespace allocproof {

namespace detail {

struct worker_report {
    latency_histogram latency;
    alloc_counts counted{};
    std::uint64_t cpu_ns = 0;
    std::optional<std::uint64_t> instructions;
    std::optional<std::uint64_t> cycles;
    std::uint64_t digest = 0;
    std::uint64_t live_bytes_peak = 0;
};

// The barrier's completion step runs once per phase, on the last thread to arrive: the exact
// moment every thread is ready (phase 0) and every thread is done (phase 1).
struct phase_clock {
    std::chrono::steady_clock::time_point* stamps;
    std::uint64_t* rss_at_end;
    int* phase;
    void operator()() noexcept {
        stamps[*phase] = std::chrono::steady_clock::now();
        if (*phase == 2) {
            *rss_at_end = resident_bytes();
        }
        ++*phase;
    }
};

[[noreturn]] inline void worker_failed(const char* what) {
    // A worker cannot report a failure through the barrier; the cell fails as a whole, and the
    // driver records this line as the reason.
    std::fprintf(stderr, "allocproof-cell: worker failed: %s\n", what);
    std::fflush(stderr);
    std::_Exit(70);
}

inline alloc_counts counts_between(const alloc_counts& before, const alloc_counts& after) {
    return {after.allocations - before.allocations, after.deallocations - before.deallocations,
            after.bytes_requested - before.bytes_requested};
}

}  // namespace detail

template <class W, class S>
cell_measurement run_cell(const cell_request& request) {
    using clock = std::chrono::steady_clock;
    const unsigned threads = request.params.threads;
    const workload_scale scale = request.params.scale;
    const std::uint64_t sample_mask = request.sample_every - 1;

    cell_measurement result;
    result.threads = threads;
    result.ops_per_thread = scale.ops_per_thread;
    result.rss_before_setup_bytes = resident_bytes();

    std::vector<detail::worker_report> reports(threads);
    clock::time_point stamps[3];
    std::uint64_t rss_at_end = 0;
    int phase = 0;
    std::barrier sync(static_cast<std::ptrdiff_t>(threads),
                      detail::phase_clock{stamps, &rss_at_end, &phase});

    auto work = [&](unsigned index) {
        try {
            detail::worker_report& report = reports[index];
            typename W::template worker<S> worker(request.params, index);
            for (std::uint64_t i = 0; i < scale.warmup_ops; ++i) {
                worker.operation(i);
            }
            thread_perf_counters counters;
            sync.arrive_and_wait();  // everyone built and warm: the clock starts

            const std::uint64_t cpu_before = thread_cpu_ns();
            const alloc_counts counts_before = this_thread_alloc_counts();
            counters.start();
            const std::uint64_t first = scale.warmup_ops;
            for (std::uint64_t i = 0; i < scale.ops_per_thread; ++i) {
                if ((i & sample_mask) == 0) [[unlikely]] {
                    const auto t0 = clock::now();
                    worker.operation(first + i);
                    const auto t1 = clock::now();
                    report.latency.record(static_cast<std::uint64_t>(
                        std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
                } else {
                    worker.operation(first + i);
                }
            }
            counters.stop();
            report.counted = detail::counts_between(counts_before, this_thread_alloc_counts());
            report.cpu_ns = thread_cpu_ns() - cpu_before;
            report.instructions = counters.instructions();
            report.cycles = counters.cycles();
            sync.arrive_and_wait();  // everyone done: the clock stops

            report.live_bytes_peak = worker.live_bytes_peak();
            report.digest = worker.finish();
        } catch (const std::exception& error) {
            detail::worker_failed(error.what());
        } catch (...) {
            detail::worker_failed("unknown exception");
        }
    };

    const auto setup_start = clock::now();
    stamps[0] = setup_start;
    phase = 1;  // phase 0 is the setup start stamped above
    {
        std::vector<std::thread> pool;
        pool.reserve(threads);
        for (unsigned t = 0; t < threads; ++t) {
            pool.emplace_back(work, t);
        }
        for (auto& thread : pool) {
            thread.join();
        }
    }

    auto ns = [](clock::duration d) {
        return static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
    };
    result.setup_ns = ns(stamps[1] - stamps[0]);
    result.wall_ns = ns(stamps[2] - stamps[1]);
    result.rss_end_of_measure_bytes = rss_at_end;
    result.rss_final_bytes = resident_bytes();

    latency_histogram latency;
    bool have_instructions = true, have_cycles = true;
    std::uint64_t instructions = 0, cycles = 0;
    for (const auto& report : reports) {
        latency.merge(report.latency);
        result.alloc_calls += report.counted.allocations;
        result.free_calls += report.counted.deallocations;
        result.bytes_requested += report.counted.bytes_requested;
        result.cpu_ns += report.cpu_ns;
        result.live_bytes_peak += report.live_bytes_peak;
        // Per-thread digests combine in thread order, whatever order the threads finished in.
        result.digest = digest_fold(result.digest, report.digest);
        have_instructions = have_instructions && report.instructions.has_value();
        have_cycles = have_cycles && report.cycles.has_value();
        instructions += report.instructions.value_or(0);
        cycles += report.cycles.value_or(0);
    }
    result.latency_buckets = latency.buckets();
    result.latency_max_ns = latency.max();
    if (have_instructions) result.instructions = instructions;
    if (have_cycles) result.cycles = cycles;
    return result;
}

}  // namespace allocproof
