#include "harness/driver/micro_count.hpp"

#include "harness/driver/allocator_catalogue.hpp"
#include "harness/driver/callgrind_run.hpp"
#include "harness/driver/child_process.hpp"
#include "harness/driver/cpu_affinity.hpp"
#include "harness/driver/environment.hpp"
#include "harness/driver/exit_codes.hpp"
#include "harness/driver/matrix.hpp"
#include "harness/driver/metric_catalogue.hpp"
#include "harness/driver/results.hpp"
#include "harness/driver/results_file.hpp"
#include "harness/driver/run.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

namespace allocproof::driver {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The first count runs this many iterations: the first fills a pool's chunk, a cache of the
// allocator, a pattern's tables; the difference to a later count leaves them out.
constexpr std::uint64_t first_iterations = 2;
// The second, unless the difference then holds fewer instructions than `least_counted`: a pair
// of a few instructions is counted again over enough iterations to hold as many, so that the
// slow path a pool takes once per chunk is in its figure as often as it runs.
constexpr std::uint64_t second_iterations = 12;
constexpr double least_counted = 2e6;
constexpr std::uint64_t most_iterations = 50'000'000;

struct micro_pair {
    std::string allocator, name, pattern, strategy, argument;
    fs::path program;
};

struct one_count {
    instruction_split split;
    double items_per_iteration = 0;
    json identity;
};

std::string regex_quoted(const std::string& text) {
    std::string quoted;
    for (char c : text) {
        if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_' && c != '/') quoted += '\\';
        quoted += c;
    }
    return quoted;
}

// The program's pairs, from Google Benchmark's own list.
std::vector<std::string> listed_pairs(const fs::path& program) {
    const child_outcome listed =
        run_child({program.string(), "--benchmark_list_tests=true"}, std::chrono::minutes(1), stop_requested());
    if (listed.exit_code != 0) {
        throw usage_error(fmt::format("{} --benchmark_list_tests failed (exit {}): {}", program.string(),
                                      listed.exit_code, last_line_of(listed.err, 300)));
    }
    std::vector<std::string> names;
    std::istringstream lines(listed.out);
    for (std::string line; std::getline(lines, line);) {
        if (!line.empty()) names.push_back(line);
    }
    return names;
}

// The pairs to count: the chosen allocators' programs, the 1-thread pairs the filter matches.
std::vector<micro_pair> chosen_pairs(const micro_count_options& options, std::vector<std::string>& left_out) {
    const auto allocators =
        expand_patterns(split_list(options.allocators, "--allocators"), global_allocator_names(), "global allocator");
    std::regex filter;
    try {
        filter = std::regex(options.filter);
    } catch (const std::regex_error& e) {
        throw usage_error(fmt::format("--filter '{}' is not a regular expression ({})", options.filter, e.what()));
    }
    std::vector<micro_pair> pairs;
    for (const auto& allocator : allocators) {
        const fs::path program = driver_directory() / ("allocproof-micro-" + allocator);
        if (::access(program.c_str(), X_OK) != 0) {
            throw usage_error(
                fmt::format("this build has no micro suite for {} ({} is not there)", allocator, program.string()));
        }
        for (const std::string& name : listed_pairs(program)) {
            if (!std::regex_search(name, filter)) continue;
            micro_pair pair{allocator, name, {}, {}, {}, program};
            std::istringstream parts(name);
            std::getline(parts, pair.pattern, '/');
            std::getline(parts, pair.strategy, '/');
            std::getline(parts, pair.argument, '/');
            if (pair.pattern.starts_with("2t_")) {
                left_out.push_back(
                    fmt::format("{} on {}: two threads, whose interleaving under valgrind is not the "
                                "program's own",
                                name, allocator));
                continue;
            }
            pairs.push_back(std::move(pair));
        }
    }
    if (pairs.empty()) throw usage_error(fmt::format("--filter '{}' matches no 1-thread pair", options.filter));
    return pairs;
}

// The pair run `iterations` times under callgrind, collecting inside its pattern's function only.
one_count count_iterations(const std::string& valgrind, const micro_pair& pair, std::uint64_t iterations,
                           const micro_count_options& options, std::size_t job) {
    callgrind_setup setup;
    setup.tool_options = {"--toggle-collect=*micro::" + pair.pattern + "<*"};
    if (options.cache_simulation) {
        for (auto& option : cache_simulation_options()) setup.tool_options.push_back(option);
    }
    setup.environment = {fmt::format("ALLOCPROOF_MICRO_ITERATIONS={}", iterations)};
    const auto limit = std::chrono::milliseconds(static_cast<long long>(options.timeout_seconds * 1000));
    const callgrind_count count = count_under_callgrind(
        valgrind,
        {pair.program.string(), "--benchmark_filter=^" + regex_quoted(pair.name) + "(/|$)", "--benchmark_format=json"},
        limit, stop_requested(), job, setup);
    if (!count.error.empty()) throw std::runtime_error(count.error);
    const json report = json::parse(count.outcome.out, nullptr, false);
    if (report.is_discarded() || !report.contains("benchmarks") || report["benchmarks"].size() != 1) {
        throw std::runtime_error("the micro program under callgrind did not report the one benchmark asked for");
    }
    const json& run = report["benchmarks"][0];
    const json& context = report.value("context", json::object());
    return {count.split,
            run.value("items_per_iteration", 0.0),
            {{"name", context.value("allocator", "")},
             {"version", context.value("allocator_version", "")},
             {"malloc_provider", context.value("malloc_provider", "")}}};
}

instruction_split difference(const instruction_split& more, const instruction_split& fewer) {
    instruction_split d{more.total - fewer.total, more.allocation - fewer.allocation, more.events};
    for (auto& [event, count] : d.events) count -= fewer.events.count(event) != 0 ? fewer.events.at(event) : 0;
    return d;
}

// One pair's cell (results/SCHEMA.md §6d): counted at two iteration counts, the difference per item.
json count_pair(const std::string& valgrind, const micro_pair& pair, const micro_count_options& options,
                std::size_t job) {
    json cell = {
        {"id", fmt::format("micro:{}/{}/{}/{}/t1", pair.pattern, pair.argument, pair.strategy, pair.allocator)},
        {"workload", fmt::format("micro:{}/{}", pair.pattern, pair.argument)},
        {"strategy", pair.strategy},
        {"allocator", pair.allocator},
        {"threads", 1},
        {"machine", 0},
        {"params", {{"measure", "callgrind"}, {"micro", pair.name}}}};
    if (options.cache_simulation) cell["params"]["caches"] = simulated_caches();
    try {
        const one_count first = count_iterations(valgrind, pair, first_iterations, options, job);
        one_count last = count_iterations(valgrind, pair, second_iterations, options, job);
        std::uint64_t last_iterations = second_iterations;
        const double per_iteration = (last.split.total - first.split.total) / (second_iterations - first_iterations);
        if (per_iteration * (second_iterations - first_iterations) < least_counted) {
            last_iterations = std::min(
                most_iterations,
                first_iterations + static_cast<std::uint64_t>(std::ceil(least_counted / std::max(per_iteration, 1.0))));
            last = count_iterations(valgrind, pair, last_iterations, options, job);
        }
        const double items = std::round(last.items_per_iteration);
        if (!(items >= 1)) throw std::runtime_error("the pattern reported no items per iteration");
        const double ops = items * static_cast<double>(last_iterations - first_iterations);
        const instruction_split counted = difference(last.split, first.split);
        // The iterations counted follow from the count itself, so they are the repetition's, not
        // the cell's params: a pair whose count changed must still match its baseline in `compare`.
        cell["params"]["items_per_iteration"] = items;
        cell["allocator_identity"] = last.identity;
        const json repetition = {{"status", "ok"},
                                 {"order", job},
                                 {"iterations", {first_iterations, last_iterations}},
                                 {"metrics", counted_metrics(json::object(), counted, ops)},
                                 {"instructions", instructions_block(counted)}};
        cell.update({{"status", "ok"}, {"reason", nullptr}, {"repetitions", {repetition}}});
        cell["metrics"] = summarize_metrics(metric_names("counted"), {&cell["repetitions"][0]});
    } catch (const std::exception& e) {
        cell.update({{"status", stop_requested() ? "interrupted" : "failed"},
                     {"reason", e.what()},
                     {"repetitions", json::array()}});
    }
    return cell;
}

// Each cell's ratio to std's cell of the same pattern, argument and allocator: one count a side,
// so an estimate without an interval, as for the counted cells of a run.
void add_ratios(json& cells) {
    std::map<std::string, const json*> reference;
    for (const json& cell : cells) {
        if (cell["strategy"] == "std" && cell["status"] == "ok") {
            reference[cell["workload"].get<std::string>() + "|" + cell["allocator"].get<std::string>()] = &cell;
        }
    }
    for (json& cell : cells) {
        const auto found =
            reference.find(cell["workload"].get<std::string>() + "|" + cell["allocator"].get<std::string>());
        if (cell["status"] != "ok" || cell["strategy"] == "std" || found == reference.end()) continue;
        json ratios = json::object();
        for (const std::string& metric : ratio_metric_names("counted")) {
            const json& mine = cell["metrics"][metric];
            const json& theirs = (*found->second)["metrics"][metric];
            if (mine.is_null() || theirs.is_null() || !(theirs["median"].get<double>() > 0)) continue;
            ratios[metric] = {{"estimate", mine["median"].get<double>() / theirs["median"].get<double>()},
                              {"ci_low", nullptr},
                              {"ci_high", nullptr}};
        }
        cell["ratio_to_std"] = ratios;
    }
}

// Every pair, as many at once as there are CPUs (a count does not depend on what runs beside it).
json count_all(const std::string& valgrind, const std::vector<micro_pair>& pairs, const micro_count_options& options) {
    json cells = json::array();
    for (std::size_t i = 0; i < pairs.size(); ++i) cells.push_back(nullptr);
    std::atomic<std::size_t> next{0};
    std::mutex printing;
    auto work = [&] {
        for (std::size_t i; (i = next++) < pairs.size() && !stop_requested();) {
            json cell = count_pair(valgrind, pairs[i], options, i + 1);
            {
                const std::lock_guard lock(printing);
                std::cerr << fmt::format(
                    "[{}/{}] {} on {}: {}\n", i + 1, pairs.size(), pairs[i].name, pairs[i].allocator,
                    cell["status"] == "ok"
                        ? fmt::format("{:.2f} instructions/op",
                                      cell["metrics"]["instructions_per_op"]["median"].get<double>())
                        : cell["status"].get<std::string>() + ": " + cell["reason"].get<std::string>());
            }
            cells[i] = std::move(cell);
        }
    };
    std::vector<std::thread> workers;
    const std::size_t at_once = std::clamp<std::size_t>(allowed_cpus().size(), 1, pairs.size());
    for (std::size_t w = 0; w < at_once; ++w) workers.emplace_back(work);
    for (auto& worker : workers) worker.join();
    json counted = json::array();
    for (json& cell : cells) {
        if (!cell.is_null()) counted.push_back(std::move(cell));  // not reached before a stop
    }
    add_ratios(counted);
    return counted;
}

}  // namespace

CLI::App* add_micro_count_command(CLI::App& app, micro_count_options& options) {
    auto* command = app.add_subcommand(
        "count-micro",
        "count, under callgrind, the instructions per operation of the micro suite's 1-thread pairs: a results "
        "file of counted cells, the same on every run of a build, for `compare` (a gate for CI)");
    command->add_option("--out,-o", options.out, "the folder for results.json")->required();
    command->add_option("--allocators,-a", options.allocators, allocators_option_help())->capture_default_str();
    command
        ->add_option("--filter", options.filter, "a regular expression a pair's name (pattern/strategy/size) contains")
        ->capture_default_str();
    command->add_flag("--cache-sim", options.cache_simulation,
                      "callgrind also simulates caches (the same on every machine): misses per operation");
    command->add_option("--timeout", options.timeout_seconds, "seconds one callgrind run may take")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    return command;
}

int micro_count_command(const micro_count_options& options, const std::vector<std::string>& command_line) {
    std::vector<std::string> left_out;
    const std::vector<micro_pair> pairs = chosen_pairs(options, left_out);
    const std::string valgrind = valgrind_program();
    const fs::path out(options.out);
    std::error_code error;
    fs::create_directories(out, error);
    if (error) throw usage_error(fmt::format("cannot make {}: {}", out.string(), error.message()));
    stop_on_signals();
    json cells = count_all(valgrind, pairs, options);
    json identities = json::object();
    for (const json& cell : cells) {
        if (cell.contains("allocator_identity"))
            identities[cell["allocator"].get<std::string>()] = cell["allocator_identity"];
    }
    const bool complete = !stop_requested() && cells.size() == pairs.size();
    const json document = {{"schema_version", results_schema_version},
                           {"tool", "allocproof"},
                           {"status", complete ? "complete" : "interrupted"},
                           {"environment", collect_environment(command_line, identities)},
                           {"plan",
                            {{"request",
                              {{"measure", "micro_instructions"},
                               {"allocators", split_list(options.allocators, "--allocators")},
                               {"filter", options.filter},
                               {"cache_simulation", options.cache_simulation}}},
                             {"cells", pairs.size()},
                             {"skipped", left_out}}},
                           {"cells", std::move(cells)}};
    try {
        atomic_write(out / "results.json", document.dump(1) + "\n");
    } catch (const std::runtime_error& e) {  // a full disk, a folder made read-only meanwhile
        std::cerr << "allocproof: error: " << e.what() << "\n";
        return exit_io;
    }
    const auto counted =
        std::ranges::count_if(document["cells"], [](const json& cell) { return cell["status"] == "ok"; });
    std::cerr << fmt::format("{} of {} pairs counted; results in {}\n", counted, pairs.size(),
                             (out / "results.json").string());
    if (!complete) return exit_interrupted;
    return static_cast<std::size_t>(counted) == pairs.size() ? exit_ok : exit_cells_failed;
}

}  // namespace allocproof::driver
