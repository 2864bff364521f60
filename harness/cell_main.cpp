// allocproof-cell-<allocator>: runs one cell (or answers --identify) and prints one JSON object
// on standard output. The driver starts one such process per cell and repetition, so each starts
// with a fresh heap and a fresh peak-RSS counter, and a crash costs one cell, not the run.
//
// With --plugin PATH (repeatable) it first loads strategy plugins (harness/plugin_loader.hpp).
// --describe prints what the build can measure (workloads, strategies, their cells, the plugins',
// names registered twice) and exits: the driver links no cell and learns the matrix from it.
//
// With --conformance STRATEGY it measures nothing: it checks that the strategy keeps the contract
// of allocproof/strategy.hpp (harness/conformance.hpp) and prints what passed, or exits 72 with
// the failed check on stderr. The driver runs it for plugin and thread-safe strategies before it
// measures them, and passes a failure on to their cells with --conformance-failed REASON: such a
// cell exits 72 at once, with the reason, and is recorded `invalid`.
//
// Exit codes: 0 measured (or checked); 2 bad arguments or a plugin that cannot be loaded; 3 the
// allocator serving malloc is not the one asked for; 70 a worker failed; 71 a worker ran out of
// memory; 72 the strategy broke its contract (a misaligned block, a failed conformance check).
// Anything else (a signal) the driver reports as a crash.
#include "allocproof/cell.hpp"
#include "allocproof/checked_blocks.hpp"
#include "allocproof/exit_codes.hpp"
#include "allocproof/registry.hpp"
#include "allocproof/alloc_counters.hpp"
#include "harness/allocator_identity.hpp"
#include "harness/conformance.hpp"
#include "allocproof/latency_histogram.hpp"
#include "harness/plugin_loader.hpp"
#include "allocproof/thread_probes.hpp"
#include "harness/traits_json.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

namespace allocproof {
namespace {

using json = nlohmann::json;

std::string digest_hex(std::uint64_t digest) {
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(digest));
    return text;
}

json identity_json(const allocator_identity& id) {
    return {{"name", id.name},
            {"version", id.version},
            {"malloc_provider", id.malloc_provider},
            {"serves_malloc", id.serves_malloc},
            {"evidence", id.evidence}};
}

// ---- probe cost --------------------------------------------------------------------------
// What one latency sample and one counted allocator call cost on this machine, measured in this
// process before the cell runs, so every record says how much of its time the probes took.
struct probe_cost {
    double timer_sample_ns = 0;      // two clock reads and a histogram update
    double counter_ns_per_call = 0;  // counting on minus counting off, per new or delete
};

template <class Body>
double ns_per_iteration(std::uint64_t iterations, Body&& body) {
    auto start = std::chrono::steady_clock::now();
    for (std::uint64_t i = 0; i < iterations; ++i) {
        body();
    }
    auto elapsed = std::chrono::steady_clock::now() - start;
    return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()) /
           static_cast<double>(iterations);
}

probe_cost measure_probe_cost() {
    constexpr std::uint64_t iterations = 20'000;  // ~10 ms in all: paid by every cell repetition
    constexpr int trials = 5;
    latency_histogram scratch;
    std::vector<double> timer, counted, uncounted;
    auto new_delete_pair = [] {
        void* volatile block = ::operator new(64);
        ::operator delete(block, 64);  // sized, as containers and delete-expressions free
    };
    for (int t = 0; t < trials; ++t) {
        timer.push_back(ns_per_iteration(iterations, [&] {
            auto t0 = std::chrono::steady_clock::now();
            auto t1 = std::chrono::steady_clock::now();
            scratch.record(static_cast<std::uint64_t>((t1 - t0).count()));
        }));
        set_alloc_counting(false);
        uncounted.push_back(ns_per_iteration(iterations, new_delete_pair));
        set_alloc_counting(true);
        counted.push_back(ns_per_iteration(iterations, new_delete_pair));
    }
    auto median = [](std::vector<double> v) {
        std::ranges::sort(v);
        return v[v.size() / 2];
    };
    return {median(timer), (median(counted) - median(uncounted)) / 2};
}

// ---- output ------------------------------------------------------------------------------
// Column-wise: a timeline is read whole by the plots, never point by point.
json timeline_json(const std::vector<timeline_point>& timeline) {
    json ops = json::array(), elapsed = json::array(), rss = json::array(), live = json::array();
    for (const auto& point : timeline) {
        ops.push_back(point.ops_done);
        elapsed.push_back(point.elapsed_ns);
        rss.push_back(point.rss_bytes);
        live.push_back(point.live_bytes ? json(*point.live_bytes) : json(nullptr));
    }
    return {{"ops_done", ops}, {"elapsed_ns", elapsed}, {"rss_bytes", rss}, {"live_bytes", live}};
}

json measurement_json(const cell_measurement& m, const probe_cost& cost, std::uint64_t sample_every) {
    json sparse = json::array();
    for (std::size_t i = 0; i < m.latency_buckets.size(); ++i) {
        if (m.latency_buckets[i] != 0) {
            sparse.push_back({i, m.latency_buckets[i]});
        }
    }
    auto optional = [](const std::optional<std::uint64_t>& v) { return v ? json(*v) : json(nullptr); };
    double ops = static_cast<double>(m.ops_per_thread) * m.threads;
    double samples = std::ceil(static_cast<double>(m.ops_per_thread) / static_cast<double>(sample_every)) * m.threads;
    double calls = static_cast<double>(m.alloc_calls + m.free_calls);
    double probe_ns = samples * cost.timer_sample_ns + calls * std::max(0.0, cost.counter_ns_per_call);
    return {
        {"threads", m.threads},
        {"ops_per_thread", m.ops_per_thread},
        {"wall_ns", m.wall_ns},
        {"cpu_ns", m.cpu_ns},
        {"setup_ns", m.setup_ns},
        {"teardown_ns", m.teardown_ns},
        {"process_cpu_ns", m.process_cpu_ns},
        {"latency", {{"sample_every", sample_every}, {"max_ns", m.latency_max_ns}, {"buckets", sparse}}},
        {"alloc_calls", m.alloc_calls},
        {"free_calls", m.free_calls},
        {"bytes_requested", m.bytes_requested},
        {"rss_before_setup_bytes", m.rss_before_setup_bytes},
        {"rss_end_of_measure_bytes", m.rss_end_of_measure_bytes},
        {"rss_final_bytes", m.rss_final_bytes},
        {"rss_unexplained_bytes", m.rss_unexplained_bytes},
        // The kernel's high-water mark can trail a reading of statm taken a moment before.
        {"rss_peak_bytes", std::max(peak_resident_bytes(), m.rss_end_of_measure_bytes)},
        {"rss_peak_of_measure_bytes", optional(m.rss_peak_of_measure_bytes)},
        {"live_bytes_peak", m.live_bytes_peak},
        {"global_bytes_held_peak", m.global_bytes_held_peak},
        {"leaked_blocks", m.leaked_blocks},
        {"leaked_bytes", m.leaked_bytes},
        {"instructions", optional(m.instructions)},
        {"cycles", optional(m.cycles)},
        {"bytes_copied", optional(m.bytes_copied)},
        {"timeline", timeline_json(m.timeline)},
        {"digest", digest_hex(m.digest)},
        {"probe_cost",
         {{"timer_sample_ns", cost.timer_sample_ns},
          {"counter_ns_per_call", cost.counter_ns_per_call},
          {"estimated_ns", probe_ns},
          {"estimated_fraction_of_cpu", m.cpu_ns > 0 ? probe_ns / static_cast<double>(m.cpu_ns) : 0.0},
          {"estimated_ns_per_op", ops > 0 ? probe_ns / ops : 0.0}}},
    };
}

// What this build can measure, with the loaded plugins' strategies and cells, for the driver,
// which links no cell and learns the matrix from this (harness/driver/matrix_catalogue.hpp).
json build_description(const std::vector<loaded_plugin>& plugins) {
    const registry& reg = registry::instance();
    json workloads = json::array(), strategies = json::array(), cells = json::object(), loaded = json::array();
    for (const auto& w : reg.workloads()) workloads.push_back(traits_to_json(w));
    for (const auto& s : reg.strategies()) strategies.push_back(traits_to_json(s));
    for (const auto& cell : reg.cells()) cells[std::string(cell.workload)].push_back(cell.strategy);
    for (const auto& plugin : plugins) {
        loaded.push_back({{"path", plugin.path},
                          {"name", plugin.name},
                          {"abi_tag", plugin.abi_tag},
                          {"strategies", plugin.strategies}});
    }
    return {{"schema", "allocproof-build/1"},
            {"abi_tag", host_plugin_abi_tag()},
            {"workloads", workloads},
            {"strategies", strategies},
            {"cells", cells},
            {"conflicts", reg.conflicts()},
            {"plugins", loaded}};
}

// The --conformance mode. Each step is announced on stderr first, so that a strategy that crashes
// or hangs in a check leaves the step's name as the last line the driver reads.
int check_conformance(const std::string& strategy) {
    std::vector<std::string> passed;
    std::vector<conformance::failure> notes;
    const auto failed = conformance::check_strategy(
        strategy,
        [](std::string_view step) {
            std::cerr << "allocproof-cell: conformance check: " << step << "\n";
            std::cerr.flush();
        },
        &passed, &notes);
    for (const auto& note : notes) {
        std::cerr << "allocproof-cell: conformance note: " << note.check << ": " << note.what << "\n";
    }
    if (failed && failed->check == "registry") {
        std::cerr << "allocproof-cell: " << failed->what << "\n";
        return exit_codes::cell::usage;
    }
    // At once: what a failed strategy left behind is not torn down (it may be corrupt).
    if (failed) conformance_check_failed(failed->check.c_str(), failed->what.c_str());
    std::cout << json{{"schema", "allocproof-conformance/1"}, {"strategy", strategy}, {"passed", passed}}.dump()
              << "\n";
    return 0;
}

// Every option of a cell program; the driver passes them (cell_argv in harness/driver/run.cpp).
struct cell_options {
    cell_request request;
    std::string expected_allocator;
    bool identify = false;
    std::vector<std::string> plugin_paths;
    bool describe = false;
    std::string conformance_strategy, conformance_failure;
    std::uint64_t memory_limit_bytes = 0;
};

void add_options(CLI::App& app, cell_options& o) {
    cell_request& request = o.request;
    app.add_flag("--identify", o.identify, "print the global allocator's identity and exit");
    app.add_option("--plugin", o.plugin_paths, "load a strategy plugin (a shared library); repeatable");
    app.add_flag("--describe", o.describe,
                 "print the workloads, strategies (the plugins' too) and their cells as JSON and exit");
    app.add_option("--conformance", o.conformance_strategy,
                   "check that a strategy keeps its contract (harness/conformance.hpp) and exit");
    app.add_option("--conformance-failed", o.conformance_failure,
                   "the strategy failed its conformance check for this reason: exit 72 with it, unmeasured");
    app.add_option("--allocator", o.expected_allocator, "the allocator the driver expects");
    app.add_option("--workload", request.workload);
    app.add_option("--strategy", request.strategy);
    app.add_option("--threads", request.params.threads)->check(CLI::Range(1u, 4096u));
    app.add_option("--ops", request.params.scale.ops_per_thread)->check(CLI::PositiveNumber);
    app.add_option("--working-set", request.params.scale.working_set)->check(CLI::PositiveNumber);
    app.add_option("--warmup-ops", request.params.scale.warmup_ops);
    app.add_option("--seed", request.params.seed);
    app.add_option("--sample-every", request.sample_every)->check(CLI::PositiveNumber);
    app.add_option("--dirty-heap-bytes", request.dirty_heap_bytes);
    app.add_option("--memory-limit-bytes", o.memory_limit_bytes, "limit this process's address space (RLIMIT_AS)");
}

// The cell itself, on the allocator the driver expects.
int measure_cell(const cell_options& o) {
    const cell_request& request = o.request;
    const allocator_identity identity = identify_global_allocator();
    if (o.identify) {
        std::cout << identity_json(identity).dump() << "\n";
        return 0;
    }
    if (!identity.serves_malloc || (!o.expected_allocator.empty() && o.expected_allocator != identity.name)) {
        std::cerr << "allocproof-cell: asked for allocator '" << o.expected_allocator << "' but malloc is served by "
                  << identity.malloc_provider << " (" << identity.name << ", ownership check "
                  << (identity.serves_malloc ? "passed" : "failed") << ")\n";
        return exit_codes::cell::allocator_mismatch;
    }

    const cell_entry* cell = registry::instance().find_cell(request.workload, request.strategy);
    if (cell == nullptr) {
        std::cerr << "allocproof-cell: no cell for workload '" << request.workload << "' and strategy '"
                  << request.strategy << "'\n";
        return exit_codes::cell::usage;
    }
    // Under callgrind nothing is timed, and the probes' cost would take most of the run.
    const auto cost = under_valgrind() ? probe_cost{} : measure_probe_cost();
    const cell_measurement measurement = cell->measure(request);
    nlohmann::json out = {{"schema", "allocproof-cell/1"},
                          {"allocator", identity_json(identity)},
                          {"measurement", measurement_json(measurement, cost, request.sample_every)}};
    std::cout << out.dump() << "\n";
    return 0;
}

}  // namespace
}  // namespace allocproof

int main(int argc, char** argv) {
    using namespace allocproof;
    // libstdc++ uses plain (non-atomic) reference counts until a process starts its first thread,
    // and glibc's malloc takes a faster path too; start and join one so that single-thread cells
    // measure the library as every real, threaded server runs it.
    std::thread([] {}).join();

    CLI::App app{"allocproof cell: one workload x strategy measurement on this global allocator"};
    cell_options o;
    add_options(app, o);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        std::cout << app.help();
        return 0;
    } catch (const CLI::ParseError& error) {
        std::cerr << "allocproof-cell: " << error.what() << "\n";
        return exit_codes::cell::usage;
    }
    if (o.memory_limit_bytes > 0) {
        // Set by the cell on itself, before plugins and the workload: an allocation past it fails
        // (std::bad_alloc, exit 71) instead of pushing the machine into swap or the OOM killer.
        const rlimit limit{o.memory_limit_bytes, o.memory_limit_bytes};
        if (::setrlimit(RLIMIT_AS, &limit) != 0) {
            std::cerr << "allocproof-cell: cannot set the memory limit: " << std::strerror(errno) << "\n";
            return exit_codes::cell::usage;
        }
    }
    std::vector<loaded_plugin> plugins;
    try {
        for (const auto& path : o.plugin_paths) plugins.push_back(load_plugin(path));
    } catch (const plugin_error& error) {
        std::cerr << "allocproof-cell: " << error.what() << "\n";
        return exit_codes::cell::usage;
    }
    if (o.describe) {
        std::cout << build_description(plugins).dump() << "\n";
        return 0;
    }
    if (!o.conformance_strategy.empty()) return check_conformance(o.conformance_strategy);
    if (!o.conformance_failure.empty()) {
        std::cerr << "allocproof-cell: conformance check failed: " << o.conformance_failure << "\n";
        return exit_conformance_failed;
    }
    if (!o.identify && (o.request.params.scale.ops_per_thread == 0 || o.request.params.scale.working_set == 0)) {
        // The driver always passes the scale (warm-up defaults to none); a cell run by hand must too.
        std::cerr << "allocproof-cell: --ops and --working-set are required\n";
        return exit_codes::cell::usage;
    }
    if ((o.request.sample_every & (o.request.sample_every - 1)) != 0) {
        std::cerr << "allocproof-cell: --sample-every must be a power of two\n";
        return exit_codes::cell::usage;
    }

    return measure_cell(o);
}
