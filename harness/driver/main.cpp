// allocproof — the driver. `allocproof list` shows what this build can measure; `allocproof run`
// measures a matrix of workload x strategy x global allocator x threads; `allocproof compare`
// tells whether one run regressed against another; `allocproof merge` joins runs of several machines;
// `allocproof interval` serves the confidence intervals to the report.
#include "harness/driver/allocator_catalogue.hpp"
#include "harness/driver/compare.hpp"
#include "harness/driver/merge.hpp"
#include "harness/driver/environment.hpp"
#include "harness/driver/external.hpp"
#include "harness/driver/instruction_pass.hpp"
#include "harness/driver/micro_count.hpp"
#include "harness/driver/interval.hpp"
#include "harness/driver/matrix.hpp"
#include "harness/driver/matrix_catalogue.hpp"
#include "harness/driver/run.hpp"
#include "harness/traits_json.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>

namespace allocproof::driver {
namespace {

using json = nlohmann::json;

std::vector<std::string> capabilities(const strategy_traits& s) {
    std::vector<std::string> caps = strategy_families(s);
    if (s.provides_blocks) {
        caps.emplace_back(s.frees_individually ? "frees individually" : "frees only on reset");
        if (s.fixed_size) caps.emplace_back("fixed block size");
        if (s.may_refuse) caps.emplace_back("may refuse");
        if (s.max_alignment > alignof(std::max_align_t)) {
            caps.emplace_back("aligned to " + std::to_string(s.max_alignment));
        }
    }
    caps.emplace_back(s.thread_safe ? "thread-safe" : "one thread per instance");
    if (s.cross_thread_free) caps.emplace_back("cross-thread free");
    return caps;
}

void print_list_json(const matrix_catalogue& build, const std::vector<std::string>& allocators, const json& external) {
    json out = {{"strategies", json::array()},
                {"workloads", json::array()},
                {"allocators", allocators},
                {"external_workloads", external}};
    for (const auto& s : build.strategies()) out["strategies"].push_back(traits_to_json(s));
    for (const auto& w : build.workloads()) {
        json entry = traits_to_json(w);
        entry["strategies"] = build.strategies_serving(w.name);
        out["workloads"].push_back(entry);
    }
    std::cout << out.dump(2) << "\n";
}

void print_list_text(const matrix_catalogue& build, const std::vector<std::string>& allocators, const json& external) {
    std::cout << "strategies:\n";
    for (const auto& s : build.strategies()) {
        std::cout << fmt::format("  {:<20} {}\n  {:<20} from: {}; [{}]\n", s.name, s.summary, "", s.origin,
                                 fmt::join(capabilities(s), ", "));
    }
    std::cout << "workloads:\n";
    for (const auto& w : build.workloads()) {
        std::cout << fmt::format("  {:<20} {}\n  {:<20} families: {}; claims: {}\n  {:<20} strategies: {}\n", w.name,
                                 w.summary, "", w.families, w.claims, "",
                                 fmt::join(build.strategies_serving(w.name), ", "));
    }
    std::cout << fmt::format("real programs (strategy {}; run under each allocator by preloading it):\n",
                             external_strategy);
    for (const auto& e : external) {
        std::cout << fmt::format("  {:<20} {}\n  {:<20} program: {} ({}); threads: {}\n", e["name"].get<std::string>(),
                                 e["summary"].get<std::string>(), "", e["program"].get<std::string>(),
                                 e["installed"].get<bool>()
                                     ? "installed: " + e["path"].get<std::string>()
                                     : fmt::format("not installed: {}; apt-get install {}",
                                                   fmt::join(e["missing"].get<std::vector<std::string>>(), ", "),
                                                   e["package"].get<std::string>()),
                                 e["threads"].get<unsigned>());
    }
    std::cout << fmt::format("global allocators (cell programs in this build):\n  {}\n", fmt::join(allocators, ", "));
}

struct list_settings {
    bool as_json = false;
    std::vector<std::string> descriptors;
    std::vector<std::string> plugins;
};

CLI::App* add_list_command(CLI::App& app, list_settings& settings) {
    auto* list = app.add_subcommand("list", "show the strategies, workloads and global allocators of this build");
    list->add_flag("--json", settings.as_json, "print JSON");
    list->add_option("--descriptor", settings.descriptors, "also an external workload descriptor file (JSON)");
    list->add_option("--plugin", settings.plugins, "also the strategies of a plugin (a shared library); repeatable");
    return list;
}

int list_command(list_settings& settings) {
    const matrix_catalogue& build = load_catalogue(settings.plugins);
    const auto allocators = available_allocators();
    const json external = external_list_json(load_external_specs(settings.descriptors, {}));
    if (settings.as_json) {
        print_list_json(build, allocators, external);
    } else {
        print_list_text(build, allocators, external);
    }
    return exit_ok;
}

// CLI11's own checks let "nan" through a range (every comparison with it is false) and wrap "-1"
// into an unsigned option's largest value: these refuse both before any conversion.
const CLI::Validator finite_number(
    [](std::string& text) {
        std::size_t used = 0;
        double value = 0;
        try {
            value = std::stod(text, &used);
        } catch (const std::exception&) {
            return fmt::format("'{}' is not a number", text);
        }
        return used == text.size() && std::isfinite(value) ? std::string()
                                                           : fmt::format("'{}' is not a finite number", text);
    },
    "FINITE");
const CLI::Validator whole_number(
    [](std::string& text) {
        return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos
                   ? std::string()
                   : fmt::format("'{}' is not a whole number >= 0", text);
    },
    "WHOLE");

// Every option of `run` with its value, default and meaning: dumped whole into results.json so
// that every number can be reproduced from the file alone.
json settings_table(const CLI::App& command) {
    json table = json::array();
    for (const CLI::Option* option : command.get_options()) {
        if (option->get_name() == "--help") continue;
        auto results = option->results();
        table.push_back({{"flag", option->get_name()},
                         {"value", results.empty() ? json(nullptr) : json(fmt::format("{}", fmt::join(results, ",")))},
                         {"default", option->get_default_str()},
                         {"meaning", option->get_description()}});
    }
    return table;
}

// `run`'s options as given, before they become a run_options.
struct run_settings {
    run_options options;
    std::string out;
    std::string workloads = "*", strategies = "*", allocators = "*", threads, shard, claims_file;
    std::uint64_t ops = 0, working_set = 0, warmup_ops = 0;
    bool quick = false, dirty_heap = false, no_pin = false, instructions = false, cache_sim = false;
    std::uint64_t dirty_heap_mib = 64;
    double min_phase_ms = 0;
};

// What to measure: the matrix's axes and the scale of each cell.
void add_matrix_options(CLI::App& run, run_settings& s) {
    matrix_request& request = s.options.request;
    run.add_option("--workloads,-w", s.workloads, "workload names or globs, comma-separated")->capture_default_str();
    run.add_option("--strategies,-s", s.strategies, "strategy names or globs, comma-separated")->capture_default_str();
    run.add_option("--allocators,-a", s.allocators, allocators_option_help())->capture_default_str();
    run.add_option("--threads,-t", s.threads,
                   "thread counts, comma-separated (default: 1, 2 and the number of CPUs the driver may use; "
                   "with --quick or --scale test: 1,2)");
    run.add_option("--reps,-r", request.reps, "repetitions of every cell, each in its own process")
        ->check(whole_number)
        ->capture_default_str();
    run.add_flag("--instructions", s.instructions,
                 "count instead of timing: each 1-thread model cell once under valgrind's callgrind, its instructions "
                 "per operation and allocation's part of them, the same on every run of a build (a gate for CI); "
                 "at most 20000 operations unless --ops, --reps 1 unless given; with --claims FILE --claims-only, the "
                 "claims' 1-thread cells");
    run.add_flag("--cache-sim", s.cache_sim,
                 "with --instructions: callgrind also simulates caches (the same on every machine), for each cell's "
                 "first- and last-level cache misses per operation; about 2.3 times slower, and the misses agree "
                 "from run to run closely but not exactly");
    run.add_flag("--quick", s.quick, "each workload's small scale (a run of a few minutes); same as --scale quick");
    run.add_option("--scale", request.scale,
                   "each workload's scale: default, quick, or test (milliseconds per cell, for checks)")
        ->check(CLI::IsMember({"default", "quick", "test"}))
        ->capture_default_str();
    run.add_option(
           "--real-program-sizes", request.real_program_sizes,
           "the real programs' (workloads/external/) sizes: default (the --scale) or full (data several "
           "times the allocators' own footprint, for memory claims: about 6 minutes for the three at 3 repetitions)")
        ->check(CLI::IsMember({"default", "full"}))
        ->capture_default_str();
    run.add_flag("--dirty-heap", s.dirty_heap,
                 "fragment each thread's heap before setup: mixed-size objects, a random half freed");
    run.add_option("--dirty-heap-mib", s.dirty_heap_mib, "MiB each thread allocates for --dirty-heap")
        ->check(whole_number)
        ->check(CLI::Range(1, 4096))
        ->capture_default_str();
    run.add_option("--ops", s.ops, "measured operations per thread (overrides the workload's scale)")
        ->check(whole_number);
    run.add_option("--working-set", s.working_set, "the workloads' size knob (overrides their scale)")
        ->check(whole_number);
    run.add_option("--warmup-ops", s.warmup_ops, "warm-up operations per thread (overrides their scale)")
        ->check(whole_number);
    run.add_option("--min-phase-ms", s.min_phase_ms,
                   fmt::format("the shortest measured phase: each workload and thread count's operations are "
                               "calibrated on its std cell to last this long (0: the scale's operations; default: "
                               "{} ms, {} ms with --quick, 0 with --scale test; --ops turns it off)",
                               default_min_phase_ms("default"), default_min_phase_ms("quick")))
        ->check(finite_number)
        ->check(CLI::Range(0.0, 60000.0));
    run.add_option("--seed", request.seed, "seed of every operation sequence and of the run order")
        ->check(whole_number)
        ->capture_default_str();
    run.add_option("--sample-every", request.sample_every,
                   "time one operation in this many for the latency histogram (a power of two)")
        ->check(whole_number)
        ->capture_default_str();
}

// How each cell runs, and what joins the matrix from outside the build.
void add_execution_options(CLI::App& run, run_settings& s) {
    matrix_request& request = s.options.request;
    run.add_flag("--no-pin", s.no_pin,
                 "do not pin 1-thread cells to a CPU of their own (by default: the last CPU the driver may use, "
                 "which the driver keeps off)");
    run.add_option("--timeout", s.options.timeout_seconds, "seconds one cell repetition may take")
        ->check(finite_number)
        ->check(CLI::PositiveNumber)
        ->check(CLI::Range(0.0, max_timeout_seconds))
        ->capture_default_str();
    run.add_option("--memory-limit-mib", s.options.memory_limit_mib,
                   "address space each cell program may use (setrlimit RLIMIT_AS); a cell that runs out "
                   "is recorded as failed and the run goes on; 0: no limit")
        ->check(whole_number)
        ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1} << 30))
        ->capture_default_str();
    run.add_option("--noise-threshold", s.options.noise_threshold,
                   "coefficient of variation of ns/op above which a cell is flagged noisy")
        ->check(finite_number)
        ->check(CLI::Range(0.0, 10.0))
        ->capture_default_str();
    run.add_option("--external", request.external_commands,
                   "a program of yours as a workload, NAME=COMMAND (e.g. 'mytool=/usr/bin/foo --bench {tmpdir}'; "
                   "{tmpdir}, {seed}, {port}, {threads} are replaced; no shell); repeatable")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    run.add_option("--descriptor", request.external_descriptors,
                   "an external workload descriptor file (JSON, as in workloads/external/); repeatable")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    run.add_option("--shard", s.shard,
                   "measure only part i of n of the matrix, i/n (e.g. 2/4; whole workload groups, the same split "
                   "on every machine); `allocproof merge` joins the parts");
    run.add_option("--plugin", request.plugins,
                   "a strategy plugin, a shared library built against the installed allocproof package "
                   "(examples/plugin); its strategies join the matrix; repeatable")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

// Claims first, and where the run goes.
void add_claims_and_output_options(CLI::App& run, run_settings& s) {
    matrix_request& request = s.options.request;
    run.add_option("--claims", s.claims_file,
                   "claims first: the cells this claims file needs run first, with its schedule of repetitions "
                   "(claims/README.md), more while their rows are undecided; then the rest of the matrix at --reps")
        ->check(CLI::ExistingFile);
    run.add_flag("--claims-only", request.claims_only, "with --claims: leave out the cells no claim needs");
    run.add_option("--claims-reps", request.claims_reps,
                   "with --claims: this many repetitions of each claim cell instead of the claims' schedule, and no "
                   "adaptive rounds (a quick look)")
        ->check(whole_number)
        ->check(CLI::Range(2u, 10000u));
    run.add_option("--budget", request.budget_seconds,
                   "with --claims: seconds the whole run may take; adaptive rounds stop when the next one and the "
                   "rest of the matrix at 3 repetitions a cell would not fit, and the rest gets --reps or as many "
                   "(not below 3) as fit (0: no limit)")
        ->check(finite_number)
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    run.add_option("--out,-o", s.out, "output folder (default: results/<run-id>)");
    run.add_flag("--resume", s.options.resume, "finish the interrupted run in --out");
}

CLI::App* add_run_command(CLI::App& app, run_settings& settings) {
    auto* run = app.add_subcommand("run", "measure a matrix of cells");
    // Given twice, an option's last value wins, as in most command lines (and scripts that add
    // to a default command line rely on it).
    run->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    add_matrix_options(*run, settings);
    add_execution_options(*run, settings);
    add_claims_and_output_options(*run, settings);
    return run;
}

// The request `run`'s options make, checked where one option contradicts another.
matrix_request request_of(const CLI::App& run, const run_settings& s) {
    matrix_request request = s.options.request;
    request.workloads = split_list(s.workloads, "--workloads");
    request.strategies = split_list(s.strategies, "--strategies");
    request.allocators = split_list(s.allocators, "--allocators");
    if (run.count("--threads")) request.threads = parse_counts(s.threads, "--threads");
    if (s.quick) {
        if (run.count("--scale") && request.scale != "quick") {
            throw usage_error("--quick and --scale " + request.scale + " contradict each other");
        }
        request.scale = "quick";
    }
    if (s.dirty_heap) request.dirty_heap_bytes = s.dirty_heap_mib << 20;
    if (run.count("--ops")) request.ops = s.ops;
    if (run.count("--working-set")) request.working_set = s.working_set;
    if (run.count("--warmup-ops")) request.warmup_ops = s.warmup_ops;
    if (run.count("--min-phase-ms")) request.min_phase_ms = s.min_phase_ms;
    if (run.count("--shard")) std::tie(request.shard_index, request.shard_count) = parse_shard(s.shard);
    if (!s.claims_file.empty()) request.claims_file = std::filesystem::absolute(s.claims_file).string();
    if (s.instructions) {
        request.measure = "instructions";
        if (!run.count("--threads")) request.threads = {1};
        if (!run.count("--reps")) request.reps = 1;
    }
    if (s.cache_sim && !s.instructions) throw usage_error("--cache-sim needs --instructions");
    request.cache_simulation = s.cache_sim;
    if ((request.claims_only || run.count("--budget") || run.count("--claims-reps")) && s.claims_file.empty()) {
        throw usage_error("--claims-only, --claims-reps and --budget need --claims");
    }
    return request;
}

int run_command(const CLI::App& run, const run_settings& s, int argc, char** argv) {
    run_options options = s.options;
    options.request = request_of(run, s);
    options.pin = !s.no_pin;
    if (options.resume && s.out.empty()) {
        throw usage_error("--resume needs --out, the folder of the run to finish");
    }
    options.out = s.out.empty() ? "results/" + utc_timestamp(true) : s.out;
    options.command_line.assign(argv, argv + argc);
    options.settings = settings_table(run);
    return run_matrix(options);
}

// A command's bad input: one line, exit code 2.
template <class Command>
int reporting_usage_errors(Command&& command) {
    try {
        return command();
    } catch (const usage_error& e) {
        std::cerr << "allocproof: error: " << e.what() << "\n";
        return exit_usage;
    }
}

}  // namespace
}  // namespace allocproof::driver

int main(int argc, char** argv) {
    using namespace allocproof::driver;
    CLI::App app{
        "allocproof: memory-allocation strategies measured side by side on database-style "
        "workloads, on each global allocator"};
    app.require_subcommand(1);
    list_settings list_options;
    auto* list = add_list_command(app, list_options);
    compare_options compare_settings;
    auto* compare = add_compare_command(app, compare_settings);
    merge_options merge_settings;
    auto* merge = add_merge_command(app, merge_settings);
    auto* interval = add_interval_command(app);
    instruction_options instruction_settings;
    auto* instructions = add_instructions_command(app, instruction_settings);
    micro_count_options micro_settings;
    auto* count_micro = add_micro_count_command(app, micro_settings);
    run_settings run_given;
    auto* run = add_run_command(app, run_given);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::cerr << "allocproof: error: " << e.what() << " (see allocproof --help)\n";
        return exit_usage;
    }
    if (compare->parsed()) return compare_command(compare_settings);
    if (merge->parsed()) return merge_command(merge_settings);
    if (interval->parsed()) return interval_command();
    if (list->parsed()) return reporting_usage_errors([&] { return list_command(list_options); });
    if (count_micro->parsed()) {
        const std::vector<std::string> command_line(argv, argv + argc);
        return reporting_usage_errors([&] { return micro_count_command(micro_settings, command_line); });
    }
    if (instructions->parsed()) {
        // It runs the build's cells: a build with names registered twice is refused here too.
        std::vector<std::string> no_plugins;
        const int refused = reporting_usage_errors([&] {
            load_catalogue(no_plugins);
            return exit_ok;
        });
        return refused != exit_ok ? refused : instructions_command(instruction_settings);
    }
    return reporting_usage_errors([&] { return run_command(*run, run_given, argc, argv); });
}
