// Runs one cell: workload W with strategy S, on params.threads threads, inside the cell process.
//
// The order of events, per worker thread:
//   build the starting state -> warm-up operations -> barrier (clock starts when the last thread
//   arrives) -> a fixed number of measured operations, one in `sample_every` timed into the
//   latency histogram -> barrier (clock stops when the last thread arrives) -> tear down, digest.
// Around the clock, what it does not see is measured too: the setup and the teardown (main thread's
// clock), the whole process's CPU over the phase, and resident memory operator new does not explain.
// With --dirty-heap each thread first leaves its heap used (allocproof/dirty_heap.hpp). The measured
// operations run in `timeline_points` equal chunks; after each, thread 0 reads the process's RSS
// and every worker that can say how many bytes it holds says so: the memory timeline.
// Fixed work per thread, not fixed time, so every strategy does exactly the same operations and a
// faster strategy simply finishes sooner.
#pragma once

#include "allocproof/cell.hpp"
#include "allocproof/exit_codes.hpp"
#include "allocproof/workload.hpp"
#include "allocproof/alloc_counters.hpp"
#include "allocproof/dirty_heap.hpp"
#include "allocproof/latency_histogram.hpp"
#include "allocproof/thread_probes.hpp"

#include <algorithm>
#include <barrier>
#include <chrono>
#include <concepts>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <latch>
#include <memory>
#include <new>
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
    std::optional<std::uint64_t> bytes_copied;
    std::uint64_t digest = 0;
    std::uint64_t live_bytes_peak = 0;
    std::int64_t held_peak = 0;               // bytes held from the global allocator, see this_thread_held_peak
    std::int64_t held_at_end_of_measure = 0;  // requested - released since the thread started
    std::vector<std::uint64_t> live_bytes;    // at the end of each timeline chunk
    std::vector<std::uint64_t> rss_bytes;     // thread 0 only
    std::vector<std::uint64_t> elapsed_ns;    // thread 0 only
    alloc_counts lifetime{};                  // from before the worker was built to after it was torn down
};

template <class Worker>
concept reports_live_bytes = requires(const Worker& w) {
    { w.live_bytes() } -> std::convertible_to<std::size_t>;
};

// A workload that counts the bytes it copies (memory traffic that allocator counters cannot see).
template <class Worker>
concept reports_bytes_copied = requires(const Worker& w) {
    { w.bytes_copied() } -> std::convertible_to<std::uint64_t>;
};

// What the threads of a cell share: the workload's own shared state, or nothing.
template <class W, class S>
struct shared_of {
    explicit shared_of(const workload_params&) {}
};
template <class W, class S>
requires contract::has_shared_state<W, S>
struct shared_of<W, S> {
    explicit shared_of(const workload_params& params) : state(params) {}
    typename W::template shared<S> state;
};

template <class W, class S>
auto make_worker(const workload_params& params, unsigned index, shared_of<W, S>& shared) {
    if constexpr (contract::has_shared_state<W, S>) {
        return std::make_unique<typename W::template worker<S>>(params, index, shared.state);
    } else {
        return std::make_unique<typename W::template worker<S>>(params, index);
    }
}

// The barrier's completion step runs once per phase, on the last thread to arrive: the exact
// moment every thread is ready (phase 0) and every thread is done (phase 1).
// Readings taken at the barriers, by whichever thread completes them.
struct phase_readings {
    std::chrono::steady_clock::time_point stamps[3];
    std::uint64_t process_cpu_ns[3] = {};
    std::uint64_t rss_at_end = 0;
    bool peak_was_reset = false;
    std::uint64_t rss_peak_of_measure = 0;
};

struct phase_clock {
    phase_readings* readings;
    int* phase;
    void operator()() noexcept {
        readings->stamps[*phase] = std::chrono::steady_clock::now();
        readings->process_cpu_ns[*phase] = process_cpu_ns();
        if (*phase == 1) {
            readings->peak_was_reset = reset_peak_resident();
        } else if (*phase == 2) {
            readings->rss_at_end = resident_bytes();
            readings->rss_peak_of_measure = peak_resident_bytes();
        }
        ++*phase;
    }
};

// Exit codes of a cell whose worker failed; the driver reads them (harness/driver/results.cpp).
// A strategy that breaks its contract exits with exit_conformance_failed (allocproof/checked_blocks.hpp).
inline constexpr int exit_worker_failed = exit_codes::cell::worker_failed;
inline constexpr int exit_out_of_memory = exit_codes::cell::out_of_memory;

[[noreturn]] inline void worker_failed(const char* what, int exit_code = exit_worker_failed) {
    // A worker cannot report a failure through the barrier; the cell fails as a whole, and the
    // driver records this line as the reason.
    std::fprintf(stderr, "allocproof-cell: worker failed: %s\n", what);
    std::fflush(stderr);
    std::_Exit(exit_code);
}

inline alloc_counts counts_between(const alloc_counts& before, const alloc_counts& after) {
    return {after.allocations - before.allocations, after.deallocations - before.deallocations,
            after.bytes_requested - before.bytes_requested, after.bytes_released - before.bytes_released};
}

inline std::int64_t held_bytes(const alloc_counts& counts) {
    return static_cast<std::int64_t>(counts.bytes_requested - counts.bytes_released);
}

inline void add_counts(alloc_counts& into, const alloc_counts& more) {
    into.allocations += more.allocations;
    into.deallocations += more.deallocations;
    into.bytes_requested += more.bytes_requested;
    into.bytes_released += more.bytes_released;
}

// What every worker of a cell does the same: the scale, the timeline's chunks, which operations
// are timed.
struct cell_plan {
    workload_scale scale;
    std::uint64_t chunks = 1;       // timeline readings: the measured operations in equal chunks
    std::uint64_t sample_mask = 0;  // an operation whose index has none of these bits set is timed
};

inline cell_plan plan_of(const cell_request& request) {
    const workload_scale scale = request.params.scale;
    return {scale, std::max<std::uint64_t>(1, std::min<std::uint64_t>(request.timeline_points, scale.ops_per_thread)),
            request.sample_every - 1};
}

// The harness's own allocations come before the leak accounting starts: the reports have room for
// every timeline reading, so a worker allocates only what its workload does.
inline std::vector<worker_report> make_reports(unsigned threads, const cell_plan& plan) {
    std::vector<worker_report> reports(threads);
    for (auto& report : reports) {
        report.live_bytes.reserve(plan.chunks);
        report.rss_bytes.reserve(plan.chunks);
        report.elapsed_ns.reserve(plan.chunks);
    }
    return reports;
}

inline std::uint64_t nanoseconds(std::chrono::steady_clock::duration d) {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

// The measured operations, in the timeline's chunks; after each, the worker's reading of the
// timeline (thread 0 also reads the process's RSS and the time).
template <class Worker>
void run_measured_operations(Worker& worker, worker_report& report, const cell_plan& plan, unsigned index) {
    using clock = std::chrono::steady_clock;
    const std::uint64_t first = plan.scale.warmup_ops;
    const std::uint64_t ops = plan.scale.ops_per_thread;
    const auto measure_start = clock::now();
    for (std::uint64_t chunk = 0; chunk < plan.chunks; ++chunk) {
        const std::uint64_t end = ops * (chunk + 1) / plan.chunks;
        for (std::uint64_t i = ops * chunk / plan.chunks; i < end; ++i) {
            if ((i & plan.sample_mask) == 0) [[unlikely]] {
                const auto t0 = clock::now();
                worker.operation(first + i);
                const auto t1 = clock::now();
                report.latency.record(nanoseconds(t1 - t0));
            } else {
                worker.operation(first + i);
            }
        }
        if constexpr (reports_live_bytes<Worker>) {
            report.live_bytes.push_back(worker.live_bytes());
        }
        if (index == 0) {
            report.rss_bytes.push_back(resident_bytes());
            report.elapsed_ns.push_back(nanoseconds(clock::now() - measure_start));
        }
    }
}

using phase_barrier = std::barrier<phase_clock>;

// From the barrier that starts the clock to the one that stops it, and what the worker's own
// probes saw in between. `born`: this thread's counts when it started, before the worker was built.
template <class Worker>
void measure_worker(Worker& worker, worker_report& report, const cell_plan& plan, unsigned index, phase_barrier& sync,
                    const alloc_counts& born) {
    thread_perf_counters counters;
    sync.arrive_and_wait();  // everyone built and warm: the clock starts

    std::uint64_t copied_before = 0;
    if constexpr (reports_bytes_copied<Worker>) copied_before = worker.bytes_copied();
    const std::uint64_t cpu_before = thread_cpu_ns();
    const alloc_counts counts_before = this_thread_alloc_counts();
    reset_this_thread_held_peak();
    counters.start();
    run_measured_operations(worker, report, plan, index);
    counters.stop();
    report.held_peak = this_thread_held_peak();
    const alloc_counts counts_after = this_thread_alloc_counts();
    report.counted = counts_between(counts_before, counts_after);
    // Read here, not with an atomic on the hot path: what this thread holds now.
    report.held_at_end_of_measure = held_bytes(counts_between(born, counts_after));
    report.cpu_ns = thread_cpu_ns() - cpu_before;
    report.instructions = counters.instructions();
    report.cycles = counters.cycles();
    if constexpr (reports_bytes_copied<Worker>) {
        report.bytes_copied = worker.bytes_copied() - copied_before;
    }
    sync.arrive_and_wait();  // everyone done: the clock stops
}

// One worker thread's life up to its teardown: its dirt, its starting state, the warm-up, the
// measured phase, and the digest. The worker and its dirt are gone when this returns.
template <class W, class S>
void run_worker(const cell_request& request, const cell_plan& plan, unsigned index, shared_of<W, S>& shared,
                phase_barrier& sync, worker_report& report, const alloc_counts& born) {
    std::optional<dirty_heap> dirt;  // lives until the worker is torn down
    if (request.dirty_heap_bytes > 0) {
        dirt.emplace(request.dirty_heap_bytes, thread_seed(~request.params.seed, index));
    }
    auto owned_worker = make_worker<W, S>(request.params, index, shared);
    auto& worker = *owned_worker;
    for (std::uint64_t i = 0; i < plan.scale.warmup_ops; ++i) {
        worker.operation(i);
    }
    measure_worker(worker, report, plan, index, sync, born);
    report.live_bytes_peak = worker.live_bytes_peak();
    report.digest = worker.finish();
}

// The clock's and the process's figures, from the readings taken at the barriers.
inline void fill_phase_figures(cell_measurement& result, const phase_readings& readings,
                               std::chrono::steady_clock::time_point torn_down) {
    const auto& stamps = readings.stamps;
    result.setup_ns = nanoseconds(stamps[1] - stamps[0]);
    result.wall_ns = nanoseconds(stamps[2] - stamps[1]);
    result.teardown_ns = nanoseconds(torn_down - stamps[2]);
    result.process_cpu_ns = readings.process_cpu_ns[2] - readings.process_cpu_ns[1];
    result.rss_end_of_measure_bytes = readings.rss_at_end;
    if (readings.peak_was_reset) {
        // The mark can trail a reading of statm taken a moment before it.
        result.rss_peak_of_measure_bytes = std::max(readings.rss_peak_of_measure, readings.rss_at_end);
    }
    result.rss_final_bytes = resident_bytes();
}

inline void fill_timeline(cell_measurement& result, const std::vector<worker_report>& reports, const cell_plan& plan) {
    for (std::uint64_t chunk = 0; chunk < plan.chunks; ++chunk) {
        timeline_point point{.ops_done = plan.scale.ops_per_thread * (chunk + 1) / plan.chunks,
                             .elapsed_ns = reports[0].elapsed_ns[chunk],
                             .rss_bytes = reports[0].rss_bytes[chunk],
                             .live_bytes = std::nullopt};
        if (!reports[0].live_bytes.empty()) {
            std::uint64_t live = 0;
            for (const auto& report : reports) live += report.live_bytes[chunk];
            point.live_bytes = live;
        }
        result.timeline.push_back(point);
    }
}

// The workers' figures summed (or merged) into the cell's; `lifetime` holds the main thread's part
// of the leak accounting, `main_thread_held` what the main thread held when the phase ended.
inline void sum_worker_reports(cell_measurement& result, const std::vector<worker_report>& reports,
                               alloc_counts lifetime, std::int64_t main_thread_held) {
    latency_histogram latency;
    bool have_instructions = true, have_cycles = true;
    std::uint64_t instructions = 0, cycles = 0;
    std::int64_t explained = main_thread_held;
    for (const auto& report : reports) {
        latency.merge(report.latency);
        result.alloc_calls += report.counted.allocations;
        result.free_calls += report.counted.deallocations;
        result.bytes_requested += report.counted.bytes_requested;
        result.cpu_ns += report.cpu_ns;
        add_counts(lifetime, report.lifetime);
        result.live_bytes_peak += report.live_bytes_peak;
        result.global_bytes_held_peak += static_cast<std::uint64_t>(std::max<std::int64_t>(0, report.held_peak));
        explained += report.held_at_end_of_measure;
        // Per-thread digests combine in thread order, whatever order the threads finished in.
        result.digest = digest_fold(result.digest, report.digest);
        have_instructions = have_instructions && report.instructions.has_value();
        have_cycles = have_cycles && report.cycles.has_value();
        instructions += report.instructions.value_or(0);
        cycles += report.cycles.value_or(0);
        if (report.bytes_copied) result.bytes_copied = result.bytes_copied.value_or(0) + *report.bytes_copied;
    }
    const auto growth = static_cast<std::int64_t>(result.rss_end_of_measure_bytes) -
                        static_cast<std::int64_t>(result.rss_before_setup_bytes);
    result.rss_unexplained_bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(0, growth - explained));
    result.leaked_blocks = static_cast<std::int64_t>(lifetime.allocations - lifetime.deallocations);
    result.leaked_bytes = static_cast<std::int64_t>(lifetime.bytes_requested - lifetime.bytes_released);
    result.latency_buckets = latency.buckets();
    result.latency_max_ns = latency.max();
    if (have_instructions) result.instructions = instructions;
    if (have_cycles) result.cycles = cycles;
}

}  // namespace detail

template <class W, class S>
cell_measurement run_cell(const cell_request& request) {
    using clock = std::chrono::steady_clock;
    const unsigned threads = request.params.threads;
    const detail::cell_plan plan = detail::plan_of(request);

    cell_measurement result;
    result.threads = threads;
    result.ops_per_thread = plan.scale.ops_per_thread;
    result.rss_before_setup_bytes = resident_bytes();
    const alloc_counts main_thread_at_start = this_thread_alloc_counts();
    std::vector<detail::worker_report> reports = detail::make_reports(threads, plan);
    detail::phase_readings readings;
    int phase = 0;
    detail::phase_barrier sync(static_cast<std::ptrdiff_t>(threads), detail::phase_clock{&readings, &phase});

    // Leak accounting, on this thread: the shared state's construction and destruction. Starting
    // the threads is left out (std::thread's state is freed by the new thread after its work).
    // The workers stay alive until the shared state is gone: a strategy with per-thread state
    // (thread_local, a pthread key) frees it when a thread exits, which would otherwise happen
    // after the accounting and look like a leak.
    std::latch workers_done(threads), shared_gone(1);
    alloc_counts lifetime{};
    alloc_counts mark = this_thread_alloc_counts();
    std::optional<detail::shared_of<W, S>> shared(std::in_place, request.params);
    detail::add_counts(lifetime, detail::counts_between(mark, this_thread_alloc_counts()));

    auto work = [&](unsigned index) {
        try {
            const alloc_counts born = this_thread_alloc_counts();
            detail::run_worker<W, S>(request, plan, index, *shared, sync, reports[index], born);
            workers_done.count_down();
            shared_gone.wait();
            reports[index].lifetime = detail::counts_between(born, this_thread_alloc_counts());
        } catch (const std::bad_alloc& error) {
            detail::worker_failed(error.what(), detail::exit_out_of_memory);
        } catch (const std::exception& error) {
            detail::worker_failed(error.what());
        } catch (...) {
            detail::worker_failed("unknown exception");
        }
    };

    std::int64_t main_thread_held = 0;
    clock::time_point torn_down;
    readings.stamps[0] = clock::now();
    phase = 1;  // phase 0 is the setup start stamped above
    {
        std::vector<std::thread> pool;
        pool.reserve(threads);
        for (unsigned t = 0; t < threads; ++t) {
            pool.emplace_back(work, t);
        }
        workers_done.wait();
        mark = this_thread_alloc_counts();
        // This thread allocated nothing since the phase ended: it waited for the workers.
        main_thread_held = detail::held_bytes(detail::counts_between(main_thread_at_start, mark));
        shared.reset();
        detail::add_counts(lifetime, detail::counts_between(mark, this_thread_alloc_counts()));
        torn_down = clock::now();
        shared_gone.count_down();
        for (auto& thread : pool) {
            thread.join();
        }
    }

    detail::fill_phase_figures(result, readings, torn_down);
    detail::fill_timeline(result, reports, plan);
    detail::sum_worker_reports(result, reports, lifetime, main_thread_held);
    return result;
}

}  // namespace allocproof
