#include "harness/driver/run.hpp"

#include "allocproof/registry.hpp"
#include "harness/driver/allocator_catalogue.hpp"
#include "harness/driver/cell_flags.hpp"
#include "harness/driver/child_process.hpp"
#include "harness/driver/claims_plan.hpp"
#include "harness/driver/conformance_check.hpp"
#include "harness/driver/cpu_affinity.hpp"
#include "harness/driver/environment.hpp"
#include "harness/driver/external.hpp"
#include "harness/driver/plugins.hpp"
#include "harness/driver/results.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>

namespace allocproof::driver {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::atomic<bool> stop_requested{false};

extern "C" void request_stop(int) { stop_requested.store(true); }

fs::path driver_directory() {
    std::error_code error;
    auto self = fs::read_symlink("/proc/self/exe", error);
    return error ? fs::current_path() : self.parent_path();
}

// ---- progress -------------------------------------------------------------------------------

std::string clock_text(double seconds) {
    auto s = static_cast<long>(seconds);
    return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                     : fmt::format("{:02}:{:02}", s / 60, s % 60);
}

class progress_line {
public:
    explicit progress_line(std::size_t total) : total_(total), on_terminal_(isatty(STDERR_FILENO)) {}

    void show(std::size_t done, const std::string& current) {
        if (!on_terminal_) return;
        double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        ++shown_;
        std::string eta = shown_ > 1 && done > 0
                              ? clock_text(elapsed / static_cast<double>(done) *
                                           static_cast<double>(total_ - done))
                              : "--:--";
        std::fprintf(stderr, "\r\033[K[%zu/%zu] elapsed %s  ETA %s  %s", done, total_,
                     clock_text(elapsed).c_str(), eta.c_str(), current.c_str());
        std::fflush(stderr);
    }

    void finish() {
        if (on_terminal_ && shown_ > 0) std::fprintf(stderr, "\r\033[K");
    }

    void grow(std::size_t total) { total_ = total; }

private:
    std::size_t total_;
    bool on_terminal_;
    std::size_t shown_ = 0;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// ---- the results document -------------------------------------------------------------------

struct run_state {
    json document;  // everything but "cells", which is rebuilt from the records
    plan matrix;
    std::vector<std::vector<json>> records;
};

void write_results(const fs::path& out, run_state& state, const run_options& options,
                   const std::string& status, bool final_statistics) {
    aggregation_settings settings;
    settings.noise_threshold = options.noise_threshold;
    settings.scale = options.request.scale;
    settings.real_program_sizes = options.request.real_program_sizes;
    json cells = aggregate_cells(state.matrix, state.records, settings);
    flag_cells(cells);
    state.document["status"] = status;
    state.document["cells"] = cells;
    atomic_write(out / "results.json", state.document.dump(1) + "\n");
    if (final_statistics) {
        atomic_write(out / "summary.csv", summary_csv(cells));
    }
}

// Each cell program's allocator as the program reports it with no plugin loaded: what every
// record of the run must name (repetition_record), since a plugin can print any record it likes.
json identify_allocators(const std::vector<std::string>& allocators) {
    json identities = json::object();
    std::atomic<bool> never{false};
    for (const auto& name : allocators) {
        auto outcome = run_child({cell_program(name).string(), "--identify"},
                                 std::chrono::seconds(30), never);
        try {
            identities[name] = json::parse(outcome.out);
        } catch (const json::exception&) {
            identities[name] = {{"error", "the cell program did not identify itself: " +
                                              outcome.err.substr(0, 300)}};
        }
    }
    return identities;
}

// Real programs: wall and CPU time, peak RSS and the program's own throughput, against glibc.
void print_external_table(const json& cells) {
    bool header = false;
    auto median = [](const json& cell, const char* metric) {
        const json& m = cell["metrics"].value(metric, json(nullptr));
        return m.is_null() ? json(nullptr) : m["median"];
    };
    for (const auto& cell : cells) {
        if (!cell.contains("external")) continue;
        if (!header) {
            std::cout << fmt::format("\n{:<12} {:<9} {:<14} {:>8} {:>8} {:>9} {:>22}  {}\n", "program", "allocator",
                                     "status", "wall s", "cpu s", "rss MiB", "throughput",
                                     "ratio to glibc: wall [95% CI], cpu");
            header = true;
        }
        auto number = [](const json& v, const char* format, double scale = 1) {
            return v.is_null() ? std::string("-") : fmt::format(fmt::runtime(format), v.get<double>() * scale);
        };
        const json throughput = median(cell, "program_throughput");
        const json& unit = cell["external"]["throughput_unit"];
        const json& ratio = cell.value("ratio_to_glibc", json(nullptr));
        std::string throughput_text = number(throughput, "{:.0f}");
        if (!unit.is_null() && !throughput.is_null()) throughput_text.append(" ").append(unit.get<std::string>());
        std::string ratio_text;
        if (!ratio.is_null() && !ratio["wall_seconds"].is_null()) {
            const json& r = ratio["wall_seconds"];
            ratio_text = r["ci_low"].is_null() ? fmt::format("{:.3f}", r["estimate"].get<double>())
                                               : fmt::format("{:.3f} [{:.3f}, {:.3f}]", r["estimate"].get<double>(),
                                                             r["ci_low"].get<double>(), r["ci_high"].get<double>());
        }
        if (!ratio.is_null() && !ratio["cpu_seconds"].is_null()) {
            ratio_text += fmt::format(", {:.3f}", ratio["cpu_seconds"]["estimate"].get<double>());
        }
        std::cout << fmt::format("{:<12} {:<9} {:<14} {:>8} {:>8} {:>9} {:>22}  {}\n",
                                 cell["workload"].get<std::string>(), cell["allocator"].get<std::string>(),
                                 cell["status"].get<std::string>(), number(median(cell, "wall_seconds"), "{:.3f}"),
                                 number(median(cell, "cpu_seconds"), "{:.3f}"),
                                 number(median(cell, "rss_peak_bytes"), "{:.1f}", 1.0 / (1 << 20)),
                                 throughput_text, ratio_text);
        if (!cell["reason"].is_null()) std::cout << "    reason: " << cell["reason"].get<std::string>() << "\n";
    }
}

void print_table(const json& cells) {
    if (std::ranges::all_of(cells, [](const json& cell) { return cell.contains("external"); })) return;
    std::cout << fmt::format("{:<12} {:<12} {:<9} {:>2} {:<11} {:>10} {:>6}  {}\n", "workload",
                             "strategy", "allocator", "t", "status", "ns/op", "cv", "ratio to std [95% CI]");
    for (const auto& cell : cells) {
        if (cell.contains("external")) continue;  // print_external_table
        const json& ns = cell["metrics"]["ns_per_op"];
        std::string ratio;
        if (!cell["ratio_to_std"].is_null() && !cell["ratio_to_std"]["ns_per_op"].is_null()) {
            const json& r = cell["ratio_to_std"]["ns_per_op"];
            ratio = r["ci_low"].is_null()
                        ? fmt::format("{:.3f}", r["estimate"].get<double>())
                        : fmt::format("{:.3f} [{:.3f}, {:.3f}]", r["estimate"].get<double>(),
                                      r["ci_low"].get<double>(), r["ci_high"].get<double>());
        }
        std::cout << fmt::format(
            "{:<12} {:<12} {:<9} {:>2} {:<11} {:>10} {:>6}  {}{}\n", cell["workload"].get<std::string>(),
            cell["strategy"].get<std::string>(), cell["allocator"].get<std::string>(),
            cell["threads"].get<unsigned>(), cell["status"].get<std::string>(),
            ns.is_null() ? "-" : fmt::format("{:.2f}", ns["median"].get<double>()),
            ns.is_null() ? "-" : fmt::format("{:.1f}%", 100 * ns["cv"].get<double>()), ratio,
            cell["noisy"].get<bool>() ? "  (noisy)" : "");
        if (cell.value("leaked", false)) {
            const json& m = cell["metrics"];
            std::cout << fmt::format("    left allocated at the end: {:.0f} blocks, at least {:.0f} bytes\n",
                                     m["leaked_blocks"]["max"].get<double>(), m["leaked_bytes"]["max"].get<double>());
        }
        if (!cell["reason"].is_null()) {
            std::cout << "    reason: " << cell["reason"].get<std::string>() << "\n";
        }
        for (const auto& flag : cell.value("flags", json::array())) {
            std::cout << fmt::format("    flag {}: {}\n", flag["flag"].get<std::string>(), flag["text"].get<std::string>());
        }
    }
    // A strategy answers for all its cells: its ok cells above are read with this in mind.
    for (const auto& [strategy, fault] : strategy_faults(cells)) {
        std::cout << fmt::format("strategy {}: {}{}\n", strategy, fault.text,
                                 fault.untrusted ? " (wrong or unbelievable results: not ranked, no verdict)" : "");
    }
}

bool is_done(const std::vector<json>& records, unsigned rep) {
    for (const auto& r : records) {
        if (r.at("rep").get<unsigned>() == rep) return true;
    }
    return false;
}

// Puts the records of a stored run back in place, matching cells by id.
void restore_records(const json& stored, run_state& state) {
    std::map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < state.matrix.cells.size(); ++i) index[state.matrix.cells[i].id()] = i;
    for (const auto& cell : stored.at("cells")) {
        auto id = cell.at("id").get<std::string>();
        auto found = index.find(id);
        if (found == index.end()) {
            throw usage_error("the stored run has a cell '" + id + "' that its plan does not make");
        }
        // A file of an older driver may hold one cell twice (--threads 1,1): each repetition counts once.
        for (const auto& record : cell.at("repetitions")) {
            if (!is_done(state.records[found->second], record.at("rep").get<unsigned>())) {
                state.records[found->second].push_back(record);
            }
        }
    }
}

// ---- the journal ------------------------------------------------------------------------------
// results.json is rewritten whole, which costs time in proportion to the run so far; done after
// every repetition, a run of thousands of repetitions would spend longer writing than measuring.
// So each repetition is appended to journal.jsonl as one line the moment it ends, and
// results.json is rewritten at checkpoints; --resume replays the journal over results.json, and a
// killed driver loses at most the line it was writing.
constexpr const char* journal_name = "journal.jsonl";
constexpr auto checkpoint_interval = std::chrono::seconds(15);

void append_to_journal(const fs::path& out, const std::string& cell_id, const json& record) {
    std::ofstream journal(out / journal_name, std::ios::app);
    journal << json{{"cell", cell_id}, {"record", record}}.dump() << "\n";
    journal.flush();
    if (!journal) {
        // errno is what the failed write left: ENOSPC on a full disk, EFBIG past a file size limit.
        throw std::runtime_error(fmt::format("cannot append to {}: {}", (out / journal_name).string(),
                                             std::strerror(errno)));
    }
}

void replay_journal(const fs::path& out, run_state& state) {
    std::ifstream journal(out / journal_name);
    if (!journal) return;
    std::map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < state.matrix.cells.size(); ++i) index[state.matrix.cells[i].id()] = i;
    std::string line;
    while (std::getline(journal, line)) {
        json entry = json::parse(line, nullptr, false);
        if (entry.is_discarded() || !entry.contains("cell") || !entry.contains("record")) {
            continue;  // a line cut short when the driver was killed: that repetition runs again
        }
        auto found = index.find(entry["cell"].get<std::string>());
        if (found == index.end()) {
            throw usage_error("the journal has a cell '" + entry["cell"].get<std::string>() +
                              "' that the run's plan does not make");
        }
        if (!is_done(state.records[found->second], entry["record"].at("rep").get<unsigned>())) {
            state.records[found->second].push_back(entry["record"]);
        }
    }
}

// ---- a cell repetition --------------------------------------------------------------------------

}  // namespace

std::vector<std::string> cell_argv(const planned_cell& cell, const matrix_request& request,
                                   const run_options& options) {
    const auto& scale = cell.params.scale;
    std::vector<std::string> argv = {
        cell_program(cell.allocator).string(), "--allocator", cell.allocator,
        "--workload", cell.workload, "--strategy", cell.strategy,
        "--threads", std::to_string(cell.threads),
        "--ops", std::to_string(scale.ops_per_thread),
        "--working-set", std::to_string(scale.working_set),
        "--warmup-ops", std::to_string(scale.warmup_ops),
        "--seed", std::to_string(cell.params.seed),
        "--sample-every", std::to_string(request.sample_every),
        "--dirty-heap-bytes", std::to_string(request.dirty_heap_bytes)};
    for (const auto& plugin : request.plugins) argv.insert(argv.end(), {"--plugin", plugin});
    append_conformance_refusal(argv, cell.strategy);
    if (options.memory_limit_mib > 0) {
        argv.insert(argv.end(), {"--memory-limit-bytes", std::to_string(options.memory_limit_mib << 20)});
    }
    return argv;
}

namespace {

// Which CPUs a repetition ran on, and why a 1-thread cell did not get one of its own when
// pinning is on (SCHEMA.md §5).
void note_cpus(json& record, const cpu_plan& cpus, unsigned threads, const child_outcome& outcome) {
    record["cpus"] = outcome.cpus;
    const std::string why = !outcome.cpus_error.empty() ? outcome.cpus_error
                            : threads == 1 && cpus.enabled ? cpus.note
                                                           : std::string();
    record["pin_note"] = why.empty() ? json(nullptr) : json(why);
}

json to_json(const cpu_plan& cpus) {
    return {{"enabled", cpus.enabled},
            {"allowed_cpus", cpus.allowed},
            {"cell_cpu", cpus.cell_cpu >= 0 ? json(cpus.cell_cpu) : json(nullptr)},
            {"driver_cpus", cpus.driver_cpus},
            {"note", cpus.note.empty() ? json(nullptr) : json(cpus.note)}};
}

// ---- the measured-phase floor ---------------------------------------------------------------------
// A measured phase of a few milliseconds is at the mercy of one timer interrupt, one burst of page
// faults, one migration: the scales' own operation counts gave phases of 3-80 ms and 1-thread CVs
// of 7-18%. So, as Google Benchmark calibrates its iteration count, the driver first runs each
// group's baseline and raises the group's ops_per_thread until that phase lasts the floor. Per
// group, not per cell: every strategy and allocator of a group must do the same operations, or
// their digests could not be compared. A strategy faster than the baseline still runs shorter than
// the floor, by its own ratio.
//
// Time per operation is not constant in the count: node_churn/std took 75-93 ns/op at 1M
// operations and 63-71 at 2.5M (the first million still grows the heap). So a count extrapolated
// from one run is run again, aiming a quarter past the floor, until a run reaches the floor.
constexpr int calibration_runs = 3;
constexpr double calibration_aim = 1.25;

// Returns plan.calibration.groups; sets the calibrated counts in `p`. Empty when stopped.
std::optional<json> calibrate(plan& p, const matrix_request& request, const run_options& options,
                              const cpu_plan& cpus, double min_phase_ms, const json& identities) {
    const auto limit = std::chrono::milliseconds(static_cast<long long>(options.timeout_seconds * 1000));
    std::vector<planned_cell> baselines;  // in plan order
    std::set<std::string> seen;
    for (const auto& cell : p.cells) {
        // Cells are planned std first, then the run's allocators in order: a group's first cell
        // is std on the first allocator, or, when the run has no std, the group's first strategy.
        if (!cell.external && seen.insert(cell.group()).second) baselines.push_back(cell);
    }
    progress_line progress(baselines.size());
    json groups = json::array();
    for (planned_cell& base : baselines) {
        progress.show(groups.size(), "calibrating " + base.id());
        const std::uint64_t scale_ops = base.params.scale.ops_per_thread;
        const std::uint64_t max_ops = scale_ops * max_calibration_factor;
        std::uint64_t& ops = base.params.scale.ops_per_thread;
        json runs = json::array(), note = nullptr;
        double phase_ns = 0;
        for (int run = 0; run < calibration_runs; ++run) {
            const child_outcome outcome = run_child(cell_argv(base, request, options), limit, stop_requested,
                                                    cpus.cpus_for(base.threads));
            if (outcome.interrupted) {
                progress.finish();
                return std::nullopt;
            }
            const json record =
                repetition_record(base, {0, 0}, 0, outcome, identities.value(base.allocator, json(nullptr)));
            if (record["status"] != "ok") {
                // The cell will fail again in the schedule and say why there.
                note = "the baseline failed, the scale's operations kept: " + record["reason"].get<std::string>();
                ops = scale_ops;
                break;
            }
            phase_ns = record["raw"]["wall_ns"].get<double>();
            runs.push_back({{"ops_per_thread", ops}, {"phase_ms", phase_ns / 1e6}});
            if (phase_ns >= min_phase_ms * 1e6 || ops == max_ops) break;
            ops = calibrated_ops(ops, phase_ns, min_phase_ms * calibration_aim, max_ops);
        }
        if (note.is_null() && ops == max_ops && phase_ns < min_phase_ms * 1e6) {
            note = fmt::format("capped at {}x the scale's operations", max_calibration_factor);
        }
        set_group_ops(p, base.group(), ops);
        groups.push_back({{"workload", base.workload}, {"threads", base.threads},
                          {"baseline", base.id()}, {"scale_ops_per_thread", scale_ops},
                          {"ops_per_thread", ops}, {"runs", runs}, {"note", note}});
    }
    progress.finish();
    return groups;
}

// A resumed run does the operations it was calibrated to (plan.calibration), not a new count.
void apply_stored_calibration(plan& p, const json& calibration) {
    if (calibration.is_null()) return;
    for (const auto& g : calibration.at("groups")) {
        planned_cell key;
        key.workload = g.at("workload").get<std::string>();
        key.threads = g.at("threads").get<unsigned>();
        set_group_ops(p, key.group(), g.at("ops_per_thread").get<std::uint64_t>());
    }
}

int run_planned(const run_options& options, matrix_request request, const json& stored);

}  // namespace

fs::path cell_program(const std::string& allocator) {
    return driver_directory() / ("allocproof-cell-" + allocator);
}

std::vector<std::string> available_allocators() {
    std::vector<std::string> found;
    for (const auto& name : global_allocator_names()) {
        if (::access(cell_program(name).c_str(), X_OK) == 0) found.push_back(name);
    }
    return found;
}

int run_matrix(const run_options& options) {
    const fs::path& out = options.out;
    matrix_request request = options.request;
    json stored;
    if (options.resume) {
        std::ifstream in(out / "results.json");
        if (!in) throw usage_error(fmt::format("--resume: no results.json in {}", out.string()));
        try {
            stored = json::parse(in);
        } catch (const json::exception& error) {
            throw usage_error(fmt::format("--resume: {} is not valid JSON ({})",
                                          (out / "results.json").string(), error.what()));
        }
        if (!stored.is_object() || stored.value("schema_version", 0) != results_schema_version ||
            !stored.contains("plan") || !stored.contains("cells")) {
            throw usage_error("--resume: results.json is not an allocproof results file of schema " +
                              std::to_string(results_schema_version));
        }
        try {
            request = matrix_request_from_json(stored["plan"].at("request"));
        } catch (const json::exception& error) {
            throw usage_error(fmt::format("--resume: results.json has no usable plan ({})", error.what()));
        }
    }
    // A resumed run keeps the limits it was started with, so that its cells are judged alike.
    run_options effective = options;
    if (options.resume) {
        const json& plan = stored["plan"];
        // The file may be an older driver's, which stored a NaN limit as null, or edited by hand.
        auto stored_limit = [&](const char* key, double fallback, double low, double high) {
            if (!plan.contains(key)) return fallback;
            const json& v = plan.at(key);
            if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < low || v.get<double>() > high) {
                throw usage_error(fmt::format("--resume: the stored plan's {} is {}, not a number in {}..{}", key,
                                              v.dump(), low, high));
            }
            return v.get<double>();
        };
        effective.timeout_seconds = stored_limit("timeout_seconds", options.timeout_seconds, 1e-3, max_timeout_seconds);
        effective.memory_limit_mib = static_cast<std::uint64_t>(
            stored_limit("memory_limit_mib", static_cast<double>(options.memory_limit_mib), 0, double(1u << 30)));
        effective.noise_threshold = stored_limit("noise_threshold", options.noise_threshold, 0, 10);
        effective.pin = plan.value("pinning", json::object()).value("enabled", options.pin);
    }
    try {
        return run_planned(effective, request, stored);
    } catch (const json::exception& error) {
        // Only a hand-edited or damaged stored run gets here: the driver writes what it reads.
        throw usage_error(fmt::format("--resume: results.json is malformed ({})", error.what()));
    }
}

namespace {

int run_planned(const run_options& options, matrix_request request, const json& stored) {
    const fs::path& out = options.out;
    run_state state;

    // Loading the plugins is bounded like a cell repetition: --timeout, at most a minute.
    const json plugins = register_plugins(
        request.plugins, std::min<std::chrono::milliseconds>(
                             std::chrono::milliseconds(static_cast<long long>(options.timeout_seconds * 1000)),
                             std::chrono::minutes(1)));
    cpu_plan cpus = plan_cpus(options.pin);
    const auto cpu_count = static_cast<unsigned>(std::max<std::size_t>(1, cpus.allowed.size()));
    // A fresh run stores the thread counts it chose, so that --resume and the other shards of a
    // run plan the same cells on a machine with another number of CPUs.
    if (!options.resume && request.threads.empty()) request.threads = default_threads(request.scale, cpu_count);
    state.matrix = make_plan(request, available_allocators(), cpu_count);
    state.records.resize(state.matrix.cells.size());
    for (const auto& line : state.matrix.skipped) std::cout << "allocproof: " << line << "\n";
    std::optional<claims_plan> claims;
    if (!request.claims_file.empty()) {
        claims = plan_claims(state.matrix, request.claims_file);
        if (request.claims_reps > 0) claims->schedule = {request.claims_reps};  // one round, no more
        if (request.claims_only) {
            // The other cells leave the plan: none is calibrated or waits for repetitions. A plugin's
            // strategies stay: the user added them to see them measured. Every kept cell keeps its
            // group's reference cell (std, or a program's glibc cell) on its allocator, the baseline
            // of its ratios and, in every group, what its digest is checked against.
            std::set<std::string> plugin_strategies;
            for (const auto& plugin : plugins) {
                for (const auto& name : plugin.at("strategies")) plugin_strategies.insert(name.get<std::string>());
            }
            auto is_reference = [](const planned_cell& cell) {
                return cell.external ? cell.allocator == "glibc" : cell.strategy == baseline_strategy;
            };
            std::set<std::string> kept_groups;
            std::vector<bool> keep(state.matrix.cells.size(), false);
            for (std::size_t i = 0; i < state.matrix.cells.size(); ++i) {
                const planned_cell& cell = state.matrix.cells[i];
                keep[i] = claims->needed[i] || plugin_strategies.contains(cell.strategy);
                if (keep[i]) {
                    kept_groups.insert(cell.group());
                    kept_groups.insert(cell.group() + "|" + cell.allocator);
                }
            }
            std::vector<planned_cell> cells;
            for (std::size_t i = 0; i < state.matrix.cells.size(); ++i) {
                const planned_cell& cell = state.matrix.cells[i];
                const bool its_reference =
                    is_reference(cell) && (kept_groups.contains(cell.group() + "|" + cell.allocator) ||
                                           (cell.external && kept_groups.contains(cell.group())));
                if (keep[i] || its_reference) cells.push_back(std::move(state.matrix.cells[i]));
            }
            state.matrix.cells = std::move(cells);
            state.matrix.schedule.clear();
            state.records.assign(state.matrix.cells.size(), {});
            claims = plan_claims(state.matrix, request.claims_file);  // the indices changed
            if (request.claims_reps > 0) claims->schedule = {request.claims_reps};
        }
    }

    // The output folder must be writable before anything is measured.
    std::error_code error;
    fs::create_directories(out, error);
    if (error) {
        throw usage_error(fmt::format("cannot create the output folder {}: {}", out.string(), error.message()));
    }
    if (!options.resume && fs::exists(out / "results.json")) {
        throw usage_error(fmt::format("{} already holds a run: use --resume to finish it, or another --out",
                                      out.string()));
    }

    struct sigaction action {};
    action.sa_handler = request_stop;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGHUP, &action, nullptr);

    // A strategy that fails its conformance check has none of its cells measured (cell_argv says why).
    check_conformance(state.matrix, request, options, stop_requested);

    // The driver keeps off the CPU of the 1-thread cells while it runs cells, calibration included.
    std::optional<scoped_cpus> driver_side;
    if (cpus.cell_cpu >= 0) {
        driver_side.emplace(cpus.driver_cpus);
        if (!driver_side->error().empty()) {
            cpus.note = "the driver could not keep off the cells' CPU: " + driver_side->error();
            cpus.cell_cpu = -1;
        }
    }

    std::vector<std::string> allocators;
    std::vector<std::string> references_added;
    for (const auto& cell : state.matrix.cells) {
        if (std::ranges::find(allocators, cell.allocator) == allocators.end()) allocators.push_back(cell.allocator);
        if (cell.added_as_reference) references_added.push_back(cell.id());
    }
    if (!references_added.empty()) {
        std::cout << fmt::format("allocproof: added {} reference cell(s) that the selection left out ({} for a model "
                                 "workload, glibc for a real program), so that every digest is checked against "
                                 "a trusted one: {}\n",
                                 references_added.size(), baseline_strategy, fmt::join(references_added, ", "));
    }
    const json identities = identify_allocators(allocators);

    if (options.resume) {
        apply_stored_calibration(state.matrix, stored["plan"].value("calibration", json(nullptr)));
        state.document = stored;
        state.document.erase("cells");
        restore_records(stored, state);
        replay_journal(out, state);
        state.document["environment"]["resumed"].push_back(
            {{"time", utc_timestamp()}, {"command_line", options.command_line}});
    } else {
        // An explicit --ops is a count the user wants: no calibration.
        const double min_phase_ms = request.ops ? 0 : request.min_phase_ms.value_or(default_min_phase_ms(request.scale));
        json calibration = nullptr;
        if (min_phase_ms > 0) {
            const auto groups = calibrate(state.matrix, request, options, cpus, min_phase_ms, identities);
            if (!groups) {
                std::cerr << "allocproof: stopped while calibrating, before any cell ran: nothing to resume\n";
                return exit_interrupted;
            }
            calibration = {{"min_phase_ms", min_phase_ms}, {"groups", *groups}};
        }
        state.document = {
            {"schema_version", results_schema_version},
            {"tool", "allocproof"},
            {"status", "running"},
            {"environment", collect_environment(options.command_line, identities)},
            {"plugins", plugins},
            {"settings", options.settings},
            {"plan",
             {{"request", to_json(request)},
              {"cells", state.matrix.cells.size()},
              {"reps", state.matrix.reps},
              {"timeout_seconds", options.timeout_seconds},
              {"memory_limit_mib", options.memory_limit_mib},
              {"noise_threshold", options.noise_threshold},
              {"pinning", to_json(cpus)},
              {"calibration", calibration},
              {"references_added", references_added},
              {"skipped", state.matrix.skipped}}},
        };
    }
    try {
        write_results(out, state, options, "running", false);
    } catch (const std::runtime_error& e) {
        throw usage_error(e.what());
    }

    // Claims first: the schedule starts with the claims' cells (and the rounds a resumed run had
    // already added); the rest of the matrix follows the adaptive rounds, with what the budget leaves:
    // --reps each, or as few as breadth_floor_reps when the rounds took the rest (a resumed run keeps
    // the count it had chosen, plan.breadth_reps).
    std::vector<unsigned> breadth_reps;
    const unsigned breadth_floor_reps = std::min(request.reps, 3u);
    if (claims) {
        const std::size_t n = state.matrix.cells.size();
        std::vector<unsigned> none(n, 0), first(n, 0), extra(n, 0);
        breadth_reps.assign(n, 0);
        const json& stored_extra = state.document["plan"].value("extra_reps", json::object());
        for (std::size_t i = 0; i < n; ++i) {
            if (claims->needed[i]) {
                first[i] = claims->schedule.front();
                extra[i] = std::max(first[i], stored_extra.value(state.matrix.cells[i].id(), 0u));
            } else {  // with --claims-only, only a plugin's cells are left here
                breadth_reps[i] = state.document["plan"].value("breadth_reps", request.reps);
            }
        }
        state.matrix.schedule.clear();
        append_rounds(state.matrix, none, first, request.seed ^ 0xC1A1u);
        append_rounds(state.matrix, first, extra, request.seed ^ 0xE77Au);
        std::cout << fmt::format("allocproof: claims first: {} of {} cells, {} repetitions each, up to {} while "
                                 "undecided\n", claims->needed_count, n, claims->schedule.front(), claims->schedule.back());
    }

    std::size_t done = 0;
    for (const auto& slot : state.matrix.schedule) {
        if (is_done(state.records[slot.cell], slot.rep)) ++done;
    }
    progress_line progress(state.matrix.schedule.size());
    const auto limit = std::chrono::milliseconds(static_cast<long long>(options.timeout_seconds * 1000));
    auto last_checkpoint = std::chrono::steady_clock::now();
    const auto started = std::chrono::steady_clock::now();
    std::size_t order = 0, next_slot = 0;
    double measured_seconds = 0;  // the repetitions this invocation ran, for the budget
    std::size_t measured_count = 0;
    // Runs the schedule's slots not yet run; false when the run was stopped.
    auto run_pending = [&]() {
        progress.grow(state.matrix.schedule.size());
        for (; next_slot < state.matrix.schedule.size(); ++next_slot) {
            const run_slot slot = state.matrix.schedule[next_slot];
            ++order;
            if (stop_requested.load()) return false;
            const planned_cell& cell = state.matrix.cells[slot.cell];
            if (is_done(state.records[slot.cell], slot.rep)) continue;
            progress.show(done, fmt::format("{} rep {}", cell.id(), slot.rep + 1));
            const auto rep_start = std::chrono::steady_clock::now();
            if (cell.external) {
                // A real program and its servers run with their own threads: every CPU of the run.
                scoped_cpus everywhere(cpus.allowed);
                auto record = run_external_repetition(*cell.external, cell.allocator, slot.rep, order,
                                                      {request.scale, request.real_program_sizes, request.seed, limit},
                                                      stop_requested);
                if (!record) return false;  // stopped: it will run on --resume
                (*record)["cpus"] = allowed_cpus();
                state.records[slot.cell].push_back(std::move(*record));
            } else {
                child_outcome outcome = run_child(cell_argv(cell, request, options), limit, stop_requested,
                                                  cpus.cpus_for(cell.threads));
                if (outcome.interrupted) return false;  // not the cell's fault: it will run on --resume
                json record =
                    repetition_record(cell, slot, order, outcome, identities.value(cell.allocator, json(nullptr)));
                note_cpus(record, cpus, cell.threads, outcome);
                state.records[slot.cell].push_back(std::move(record));
            }
            measured_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - rep_start).count();
            ++measured_count;
            append_to_journal(out, cell.id(), state.records[slot.cell].back());
            ++done;
            if (std::chrono::steady_clock::now() - last_checkpoint > checkpoint_interval) {
                write_results(out, state, options, "running", false);
                last_checkpoint = std::chrono::steady_clock::now();
            }
        }
        return true;
    };
    try {
        bool running = run_pending();
        if (running && claims) {
            std::string note;
            // The breadth's repetitions not yet run if each of its cells had `reps`.
            auto breadth_slots = [&](unsigned reps) {
                std::size_t slots = 0;
                for (std::size_t i = 0; i < breadth_reps.size(); ++i) {
                    if (breadth_reps[i] == 0) continue;
                    slots += reps - std::min<unsigned>(reps, static_cast<unsigned>(state.records[i].size()));
                }
                return slots;
            };
            auto seconds_per_rep = [&] { return measured_seconds / static_cast<double>(measured_count); };
            auto seconds_left = [&] {
                return request.budget_seconds -
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            };
            // A resumed run whose rounds had ended (and chose the breadth's count) goes on with the breadth.
            const bool rounds_ended = state.document["plan"].contains("breadth_reps");
            const bool budgeted = request.budget_seconds > 0 && !rounds_ended;
            for (unsigned round = 1; running && !rounds_ended; ++round) {
                write_results(out, state, options, "running", false);
                auto targets = next_round(out, request.claims_file, stop_requested, note);
                std::vector<unsigned> from(state.matrix.cells.size(), 0), to(state.matrix.cells.size(), 0);
                std::size_t slots = 0;
                for (std::size_t i = 0; i < state.matrix.cells.size(); ++i) {
                    unsigned have = 0;
                    for (const auto& r : state.records[i]) have = std::max(have, r.at("rep").get<unsigned>() + 1);
                    from[i] = to[i] = have;
                    auto wanted = targets.find(state.matrix.cells[i].id());
                    if (claims->needed[i] && wanted != targets.end() && wanted->second > have) {
                        to[i] = std::min(wanted->second, claims->schedule.back());
                        slots += to[i] - have;
                    }
                }
                if (slots == 0) break;
                if (budgeted && measured_count > 0) {
                    if (seconds_per_rep() * static_cast<double>(slots + breadth_slots(breadth_floor_reps)) > seconds_left()) {
                        note = fmt::format("adaptive rounds stopped at round {}: {} more repetitions would overrun "
                                           "the budget of {:.0f} s", round, slots, request.budget_seconds);
                        break;
                    }
                }
                for (std::size_t i = 0; i < to.size(); ++i) {
                    if (to[i] > from[i]) state.document["plan"]["extra_reps"][state.matrix.cells[i].id()] = to[i];
                }
                append_rounds(state.matrix, from, to, request.seed ^ (0xA0A0u + round));
                std::cout << fmt::format("allocproof: adaptive round {}: {} repetitions for {} undecided claim rows' cells\n",
                                         round, slots, targets.size());
                running = run_pending();
            }
            if (!note.empty()) std::cout << "allocproof: " << note << "\n";
            if (running && budgeted && measured_count > 0) {
                unsigned reps = request.reps;
                while (reps > breadth_floor_reps &&
                       seconds_per_rep() * static_cast<double>(breadth_slots(reps)) > seconds_left()) {
                    --reps;
                }
                for (auto& r : breadth_reps) {
                    if (r != 0) r = reps;
                }
                state.document["plan"]["breadth_reps"] = reps;
                if (reps < request.reps) {
                    std::cout << fmt::format("allocproof: the rest of the matrix gets {} repetitions a cell, not {}: "
                                             "the claims' rounds took the budget\n", reps, request.reps);
                }
            }
            if (running) {
                std::vector<unsigned> none(breadth_reps.size(), 0);
                append_rounds(state.matrix, none, breadth_reps, request.seed ^ 0x5EEDF00DULL);
                running = run_pending();
            }
        }
        progress.finish();
        const std::size_t total = state.matrix.schedule.size();
        const bool complete = running && done == total;
        write_results(out, state, options, complete ? "complete" : "interrupted", true);
        if (complete) fs::remove(out / journal_name);  // results.json now holds every line of it
        print_table(state.document["cells"]);
        print_external_table(state.document["cells"]);
        std::cout << fmt::format("\n{} of {} repetitions done; results in {}\n", done, total,
                                 (out / "results.json").string());
        if (!complete) {
            std::cerr << fmt::format("allocproof: stopped; finish with: allocproof run --resume --out {}\n",
                                     out.string());
            return exit_interrupted;
        }
    } catch (const std::runtime_error& e) {
        progress.finish();
        std::cerr << "allocproof: error: " << e.what() << "\n";
        return exit_io;
    }
    // A program whose own allocator would take the place of the one asked for is not a failure
    // of the run: its cell says so (not_applicable) and nothing was measured under a wrong label.
    for (const auto& cell : state.document["cells"]) {
        if (cell["status"] != "ok" && cell["status"] != "not_applicable") return exit_cells_failed;
    }
    return exit_ok;
}

}  // namespace

}  // namespace allocproof::driver
