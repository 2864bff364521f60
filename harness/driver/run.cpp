#include "harness/driver/run.hpp"

#include "allocproof/registry.hpp"
#include "harness/driver/allocator_catalogue.hpp"
#include "harness/driver/cell_flags.hpp"
#include "harness/driver/callgrind_run.hpp"
#include "harness/driver/cell_kind.hpp"
#include "harness/driver/child_process.hpp"
#include "harness/driver/claims_plan.hpp"
#include "harness/driver/conformance_check.hpp"
#include "harness/driver/cpu_affinity.hpp"
#include "harness/driver/environment.hpp"
#include "harness/driver/matrix_catalogue.hpp"
#include "harness/driver/exit_codes.hpp"
#include "harness/driver/results.hpp"
#include "harness/driver/results_file.hpp"
#include "harness/driver/run_reporter.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>
#include <set>
#include <thread>

namespace allocproof::driver {

using json = nlohmann::json;
namespace fs = std::filesystem;

fs::path driver_directory() {
    std::error_code error;
    auto self = fs::read_symlink("/proc/self/exe", error);
    return error ? fs::current_path() : self.parent_path();
}

namespace {

// How long one cell repetition may take (--timeout).
std::chrono::milliseconds repetition_limit(const run_options& options) {
    return std::chrono::milliseconds(static_cast<long long>(options.timeout_seconds * 1000));
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
                              ? clock_text(elapsed / static_cast<double>(done) * static_cast<double>(total_ - done))
                              : "--:--";
        std::fprintf(stderr, "\r\033[K[%zu/%zu] elapsed %s  ETA %s  %s", done, total_, clock_text(elapsed).c_str(),
                     eta.c_str(), current.c_str());
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

// results.json is rewritten at checkpoints, the journal after every repetition (results_file.hpp).
constexpr auto checkpoint_interval = std::chrono::seconds(15);

struct run_state {
    json document;  // the results document; its "cells" are rebuilt from the records
    plan matrix;
    std::vector<std::vector<json>> records;
};

// The document's cells aggregated from the records so far, and flagged, under `status`.
void aggregate(run_state& state, const run_options& options, const std::string& status) {
    aggregation_settings settings;
    settings.noise_threshold = options.noise_threshold;
    settings.scale = options.request.scale;
    settings.real_program_sizes = options.request.real_program_sizes;
    settings.cache_simulation = options.request.cache_simulation;
    json cells = aggregate_cells(state.matrix, state.records, settings);
    flag_cells(cells);
    state.document["status"] = status;
    state.document["cells"] = std::move(cells);
}

// Each cell program's allocator as the program reports it with no plugin loaded: what every
// record of the run must name (repetition_record), since a plugin can print any record it likes.
json identify_allocators(const std::vector<std::string>& allocators) {
    json identities = json::object();
    std::atomic<bool> never{false};
    for (const auto& name : allocators) {
        auto outcome = run_child({cell_program(name).string(), "--identify"}, std::chrono::seconds(30), never);
        try {
            identities[name] = json::parse(outcome.out);
        } catch (const json::exception&) {
            identities[name] = {{"error", "the cell program did not identify itself: " + outcome.err.substr(0, 300)}};
        }
    }
    return identities;
}

bool is_done(const std::vector<json>& records, unsigned rep) {
    for (const auto& r : records) {
        if (r.at("rep").get<unsigned>() == rep) return true;
    }
    return false;
}

// Puts the records of a stored run back in place, matching cells by id: those results.json holds,
// then those the journal holds beyond them (results_file.hpp says why there are two). Each
// repetition counts once: a file of an older driver may hold one cell twice (--threads 1,1).
void restore_records(const json& stored, const fs::path& out, run_state& state) {
    std::map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < state.matrix.cells.size(); ++i) index[state.matrix.cells[i].id()] = i;
    auto restore = [&](const char* source, const std::string& id, const json& record) {
        auto found = index.find(id);
        if (found == index.end()) {
            throw usage_error(fmt::format("{} has a cell '{}' that the run's plan does not make", source, id));
        }
        if (!is_done(state.records[found->second], record.at("rep").get<unsigned>())) {
            state.records[found->second].push_back(record);
        }
    };
    for (const auto& cell : stored.at("cells")) {
        for (const auto& record : cell.at("repetitions"))
            restore("the stored run", cell.at("id").get<std::string>(), record);
    }
    results_journal(out).replay([&](const std::string& id, const json& record) { restore("the journal", id, record); });
}

// ---- a cell repetition --------------------------------------------------------------------------

}  // namespace

std::vector<std::string> cell_argv(const planned_cell& cell, const matrix_request& request,
                                   const run_options& options) {
    const auto& scale = cell.params.scale;
    std::vector<std::string> argv = {cell_program(cell.allocator).string(),
                                     "--allocator",
                                     cell.allocator,
                                     "--workload",
                                     cell.workload,
                                     "--strategy",
                                     cell.strategy,
                                     "--threads",
                                     std::to_string(cell.threads),
                                     "--ops",
                                     std::to_string(scale.ops_per_thread),
                                     "--working-set",
                                     std::to_string(scale.working_set),
                                     "--warmup-ops",
                                     std::to_string(scale.warmup_ops),
                                     "--seed",
                                     std::to_string(cell.params.seed),
                                     "--sample-every",
                                     std::to_string(request.sample_every),
                                     "--dirty-heap-bytes",
                                     std::to_string(request.dirty_heap_bytes)};
    for (const auto& plugin : request.plugins) argv.insert(argv.end(), {"--plugin", plugin});
    append_conformance_refusal(argv, cell.strategy);
    if (options.memory_limit_mib > 0) {
        argv.insert(argv.end(), {"--memory-limit-bytes", std::to_string(options.memory_limit_mib << 20)});
    }
    return argv;
}

namespace {

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
std::optional<json> calibrate(plan& p, const matrix_request& request, const run_options& options, const cpu_plan& cpus,
                              double min_phase_ms, const json& identities) {
    const auto limit = repetition_limit(options);
    std::vector<planned_cell> baselines;  // in plan order
    std::set<std::string> seen;
    for (const auto& cell : p.cells) {
        // Cells are planned std first, then the run's allocators in order: a group's first cell
        // is std on the first allocator, or, when the run has no std, the group's first strategy.
        if (kind_of(cell).calibrated() && seen.insert(cell.group()).second) baselines.push_back(cell);
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
            const child_outcome outcome =
                run_child(cell_argv(base, request, options), limit, stop_requested(), cpus.cpus_for(base.threads));
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
        groups.push_back({{"workload", base.workload},
                          {"threads", base.threads},
                          {"baseline", base.id()},
                          {"scale_ops_per_thread", scale_ops},
                          {"ops_per_thread", ops},
                          {"runs", runs},
                          {"note", note}});
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

}  // namespace

fs::path cell_program(const std::string& allocator) { return driver_directory() / ("allocproof-cell-" + allocator); }

std::vector<std::string> available_allocators() {
    std::vector<std::string> found;
    for (const auto& name : global_allocator_names()) {
        if (::access(cell_program(name).c_str(), X_OK) == 0) found.push_back(name);
    }
    return found;
}

namespace {

// The run --resume finishes: its results.json, read as every results file is (results_file.hpp),
// and its plan.
json load_stored_run(const fs::path& out) {
    if (!fs::exists(out / "results.json")) {
        throw usage_error(fmt::format("--resume: no results.json in {}", out.string()));
    }
    try {
        json stored = load_results(out / "results.json", nullptr, /*keep_raw=*/true);
        if (!stored.contains("plan") || !stored["plan"].is_object()) {
            throw usage_error(fmt::format("{} is malformed: no plan", (out / "results.json").string()));
        }
        return stored;
    } catch (const usage_error& error) {
        throw usage_error(std::string("--resume: ") + error.what());
    }
}

// A resumed run keeps the limits it was started with, so that its cells are judged alike.
run_options stored_limits(const run_options& options, const json& plan) {
    // The file may be an older driver's, which stored a NaN limit as null, or edited by hand.
    auto stored_limit = [&](const char* key, double fallback, double low, double high) {
        if (!plan.contains(key)) return fallback;
        const json& v = plan.at(key);
        if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < low || v.get<double>() > high) {
            throw usage_error(
                fmt::format("--resume: the stored plan's {} is {}, not a number in {}..{}", key, v.dump(), low, high));
        }
        return v.get<double>();
    };
    run_options effective = options;
    effective.timeout_seconds = stored_limit("timeout_seconds", options.timeout_seconds, 1e-3, max_timeout_seconds);
    effective.memory_limit_mib = static_cast<std::uint64_t>(
        stored_limit("memory_limit_mib", static_cast<double>(options.memory_limit_mib), 0, double(1u << 30)));
    effective.noise_threshold = stored_limit("noise_threshold", options.noise_threshold, 0, 10);
    effective.pin = plan.value("pinning", json::object()).value("enabled", options.pin);
    return effective;
}

int run_planned(const run_options& options, matrix_request request, const json& stored);

}  // namespace

int run_matrix(const run_options& options) {
    try {
        if (!options.resume) return run_planned(options, options.request, json());
        const json stored = load_stored_run(options.out);
        matrix_request request;
        try {
            request = matrix_request_from_json(stored["plan"].at("request"));
        } catch (const json::exception& error) {
            throw usage_error(fmt::format("--resume: results.json has no usable plan ({})", error.what()));
        }
        // The stored request is the run's, whatever this command line asked: the cells' params
        // (their scale, their simulated caches) are described from it as they were measured.
        run_options effective = stored_limits(options, stored["plan"]);
        effective.request = request;
        return run_planned(effective, request, stored);
    } catch (const json::exception& error) {
        // Only a hand-edited or damaged stored run gets here: the driver writes what it reads.
        throw usage_error(fmt::format("--resume: results.json is malformed ({})", error.what()));
    }
}

namespace {

// ---- planning ---------------------------------------------------------------------------------

// With --claims-only the other cells leave the plan: none is calibrated or waits for repetitions.
// A plugin's strategies stay: the user added them to see them measured. Every kept cell keeps its
// group's reference cell (std, or a program's glibc cell) on its allocator, the baseline of its
// ratios and, in every group, what its digest is checked against: a reference cell stays when a
// kept cell takes its ratios to it (cell_kind::reference_key).
void keep_claims_cells(run_state& state, const claims_plan& claims, const json& plugins) {
    std::set<std::string> plugin_strategies;
    for (const auto& plugin : plugins) {
        for (const auto& name : plugin.at("strategies")) plugin_strategies.insert(name.get<std::string>());
    }
    std::set<std::string> kept_references;
    std::vector<bool> keep(state.matrix.cells.size(), false);
    for (std::size_t i = 0; i < state.matrix.cells.size(); ++i) {
        const planned_cell& cell = state.matrix.cells[i];
        keep[i] = claims.needed[i] || plugin_strategies.contains(cell.strategy);
        if (keep[i]) kept_references.insert(kind_of(cell).reference_key(cell));
    }
    std::vector<planned_cell> cells;
    for (std::size_t i = 0; i < state.matrix.cells.size(); ++i) {
        const planned_cell& cell = state.matrix.cells[i];
        const bool its_reference =
            is_reference_cell(cell) && kept_references.contains(kind_of(cell).reference_key(cell));
        if (keep[i] || its_reference) cells.push_back(std::move(state.matrix.cells[i]));
    }
    state.matrix.cells = std::move(cells);
    state.matrix.schedule.clear();
    state.records.assign(state.matrix.cells.size(), {});
}

std::optional<claims_plan> plan_claims_of(const plan& matrix, const matrix_request& request) {
    if (request.claims_file.empty()) return std::nullopt;
    claims_plan claims = plan_claims(matrix, request.claims_file);
    if (request.claims_reps > 0) claims.schedule = {request.claims_reps};  // one round, no more
    return claims;
}

// The run's cells and, with --claims, which of them the claims need.
std::optional<claims_plan> plan_run(run_state& state, matrix_request& request, const run_options& options,
                                    const cpu_plan& cpus, const json& plugins) {
    const auto cpu_count = static_cast<unsigned>(std::max<std::size_t>(1, cpus.allowed.size()));
    // A fresh run stores the thread counts it chose, so that --resume and the other shards of a
    // run plan the same cells on a machine with another number of CPUs.
    if (!options.resume && request.threads.empty()) request.threads = default_threads(request.scale, cpu_count);
    state.matrix = make_plan(request, available_allocators(), cpu_count);
    state.records.resize(state.matrix.cells.size());
    for (const auto& line : state.matrix.skipped) std::cout << "allocproof: " << line << "\n";
    std::optional<claims_plan> claims = plan_claims_of(state.matrix, request);
    if (claims && request.claims_only) {
        keep_claims_cells(state, *claims, plugins);
        claims = plan_claims_of(state.matrix, request);  // the indices changed
    }
    if (claims && request.measure == "instructions") {
        // A count needs no schedule of repetitions to settle it: the claims only chose the cells,
        // and each is counted --reps times, as every other cell is.
        const std::size_t cells = state.matrix.cells.size();
        if (state.matrix.schedule.empty()) {
            append_rounds(state.matrix, std::vector<unsigned>(cells, 0),
                          std::vector<unsigned>(cells, state.matrix.reps), request.seed);
        }
        claims.reset();
    }
    return claims;
}

// The output folder must be writable before anything is measured, and hold no other run.
void prepare_output(const run_options& options) {
    std::error_code error;
    fs::create_directories(options.out, error);
    if (error) {
        throw usage_error(fmt::format("cannot create the output folder {}: {}", options.out.string(), error.message()));
    }
    if (!options.resume && fs::exists(options.out / "results.json")) {
        throw usage_error(
            fmt::format("{} already holds a run: use --resume to finish it, or another --out", options.out.string()));
    }
}

// The driver keeps off the CPU of the 1-thread cells while it runs cells, calibration included.
void keep_driver_off_cells(cpu_plan& cpus, std::optional<scoped_cpus>& driver_side) {
    if (cpus.cell_cpu >= 0) {
        driver_side.emplace(cpus.driver_cpus);
        if (!driver_side->error().empty()) {
            cpus.note = "the driver could not keep off the cells' CPU: " + driver_side->error();
            cpus.cell_cpu = -1;
        }
    }
}

std::vector<std::string> allocators_of(const plan& matrix) {
    std::vector<std::string> allocators;
    for (const auto& cell : matrix.cells) {
        if (std::ranges::find(allocators, cell.allocator) == allocators.end()) allocators.push_back(cell.allocator);
    }
    return allocators;
}

// The reference cells the plan added to the selection, said on the console.
std::vector<std::string> announce_references_added(const plan& matrix) {
    std::vector<std::string> added;
    for (const auto& cell : matrix.cells) {
        if (cell.added_as_reference) added.push_back(cell.id());
    }
    if (!added.empty()) {
        std::cout << fmt::format(
            "allocproof: added {} reference cell(s) that the selection left out ({} for a model "
            "workload, glibc for a real program), so that every digest is checked against "
            "a trusted one: {}\n",
            added.size(), baseline_strategy, fmt::join(added, ", "));
    }
    return added;
}

// ---- the document a run starts from -------------------------------------------------------------

void resume_document(run_state& state, const json& stored, const run_options& options) {
    apply_stored_calibration(state.matrix, stored["plan"].value("calibration", json(nullptr)));
    state.document = stored;
    state.document.erase("cells");
    restore_records(stored, options.out, state);
    state.document["environment"]["resumed"].push_back(
        {{"time", utc_timestamp()}, {"command_line", options.command_line}});
}

// What a fresh run is: its environment, plugins, settings and plan. False when stopped while
// calibrating.
bool new_document(run_state& state, const run_options& options, const matrix_request& request, const cpu_plan& cpus,
                  const json& identities, const json& plugins, const std::vector<std::string>& references_added) {
    // An explicit --ops is a count the user wants: no calibration.
    const double min_phase_ms = request.ops ? 0 : request.min_phase_ms.value_or(default_min_phase_ms(request.scale));
    json calibration = nullptr;
    if (min_phase_ms > 0) {
        const auto groups = calibrate(state.matrix, request, options, cpus, min_phase_ms, identities);
        if (!groups) return false;
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
    return true;
}

// results.json as it stands, while the run goes on.
void write_checkpoint(run_state& state, const run_options& options, const reporter_list& reporters) {
    aggregate(state, options, "running");
    report_checkpoint(reporters, state.document);
}

// ---- the schedule -------------------------------------------------------------------------------

// Claims first: the schedule starts with the claims' cells (and the rounds a resumed run had
// already added); the rest of the matrix follows the adaptive rounds (claims_schedule). Returns
// the breadth's repetitions of each cell: 0 for the claims' cells, --reps for the others (a resumed
// run keeps the count it had chosen, plan.breadth_reps).
std::vector<unsigned> schedule_claims_first(run_state& state, const claims_plan& claims,
                                            const matrix_request& request) {
    const std::size_t n = state.matrix.cells.size();
    std::vector<unsigned> none(n, 0), first(n, 0), extra(n, 0), breadth_reps(n, 0);
    const json& stored_extra = state.document["plan"].value("extra_reps", json::object());
    for (std::size_t i = 0; i < n; ++i) {
        if (claims.needed[i]) {
            first[i] = claims.schedule.front();
            extra[i] = std::max(first[i], stored_extra.value(state.matrix.cells[i].id(), 0u));
        } else {  // with --claims-only, only a plugin's cells are left here
            breadth_reps[i] = state.document["plan"].value("breadth_reps", request.reps);
        }
    }
    state.matrix.schedule.clear();
    append_rounds(state.matrix, none, first, request.seed ^ 0xC1A1u);
    append_rounds(state.matrix, first, extra, request.seed ^ 0xE77Au);
    std::cout << fmt::format(
        "allocproof: claims first: {} of {} cells, {} repetitions each, up to {} while "
        "undecided\n",
        claims.needed_count, n, claims.schedule.front(), claims.schedule.back());
    return breadth_reps;
}

// Runs the schedule's slots in order, each repetition in its own process: appends each record to
// the journal as it ends, reports a checkpoint now and then, and times what it ran for the budget.
class schedule_runner {
public:
    schedule_runner(run_state& state, const run_options& options, const matrix_request& request, const cpu_plan& cpus,
                    const json& identities, const reporter_list& reporters)
        : state_(state),
          options_(options),
          request_(request),
          cpus_(cpus),
          identities_(identities),
          reporters_(reporters),
          journal_(options.out),
          progress_(state.matrix.schedule.size()) {
        for (const auto& slot : state.matrix.schedule) {
            if (is_done(state.records[slot.cell], slot.rep)) ++done_;
        }
    }

    // Runs the slots not yet run; false when the run was stopped.
    bool run_pending();
    void checkpoint() {
        write_checkpoint(state_, options_, reporters_);
        last_checkpoint_ = std::chrono::steady_clock::now();
    }
    void finish_progress() { progress_.finish(); }
    std::size_t done() const { return done_; }
    bool measured_any() const { return measured_count_ > 0; }
    double seconds_since_start() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    }
    double seconds_per_rep() const { return measured_seconds_ / static_cast<double>(measured_count_); }

private:
    // A slot to run, and its place in the run (the schedule's position, 1-based).
    struct pending_slot {
        run_slot slot;
        std::size_t order;
    };
    std::optional<json> run_repetition(const planned_cell& cell, const run_slot& slot, std::size_t order);
    std::vector<pending_slot> next_batch();
    std::vector<std::optional<json>> run_batch(const std::vector<pending_slot>& batch);

    run_state& state_;
    const run_options& options_;
    const matrix_request& request_;
    const cpu_plan& cpus_;
    const json& identities_;
    const reporter_list& reporters_;
    results_journal journal_;
    progress_line progress_;
    const std::chrono::milliseconds limit_ = repetition_limit(options_);
    const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point last_checkpoint_ = started_;
    std::size_t done_ = 0, next_slot_ = 0;
    double measured_seconds_ = 0;  // the repetitions this invocation ran, for the budget
    std::size_t measured_count_ = 0;
};

// One repetition's record; none when the run was stopped during it (not the cell's fault: it runs
// on --resume). Its kind runs it (cell_kind.hpp): how, and on which CPUs.
std::optional<json> schedule_runner::run_repetition(const planned_cell& cell, const run_slot& slot, std::size_t order) {
    const repetition_context context{request_, options_, cpus_, identities_, limit_, order, stop_requested()};
    return kind_of(cell).run_repetition(cell, slot, context);
}

// The next slots to run: one, or, of a kind whose figures do not depend on what else runs
// (cell_kind::deterministic), as many in a row as the run has CPUs. A timed cell runs alone.
std::vector<schedule_runner::pending_slot> schedule_runner::next_batch() {
    std::vector<pending_slot> batch;
    const std::size_t width = std::max<std::size_t>(1, cpus_.allowed.size());
    for (; next_slot_ < state_.matrix.schedule.size() && batch.size() < width; ++next_slot_) {
        const run_slot slot = state_.matrix.schedule[next_slot_];
        if (is_done(state_.records[slot.cell], slot.rep)) continue;
        const bool alone = !kind_of(state_.matrix.cells[slot.cell]).deterministic();
        if (alone && !batch.empty()) break;  // it runs next, by itself
        batch.push_back({slot, next_slot_ + 1});
        if (alone) {
            ++next_slot_;
            break;
        }
    }
    return batch;
}

// Each slot's record, in the batch's order; several slots run at once, a thread each.
std::vector<std::optional<json>> schedule_runner::run_batch(const std::vector<pending_slot>& batch) {
    std::vector<std::optional<json>> records(batch.size());
    auto run = [&](std::size_t i) {
        records[i] = run_repetition(state_.matrix.cells[batch[i].slot.cell], batch[i].slot, batch[i].order);
    };
    if (batch.size() == 1) {
        run(0);
    } else {
        std::vector<std::jthread> workers;
        for (std::size_t i = 0; i < batch.size(); ++i) workers.emplace_back(run, i);
    }
    return records;
}

bool schedule_runner::run_pending() {
    progress_.grow(state_.matrix.schedule.size());
    while (next_slot_ < state_.matrix.schedule.size()) {
        if (stop_requested().load()) return false;
        const std::vector<pending_slot> batch = next_batch();
        if (batch.empty()) break;
        const run_slot& first = batch.front().slot;
        progress_.show(done_, fmt::format("{} rep {}", state_.matrix.cells[first.cell].id(), first.rep + 1));
        const auto started = std::chrono::steady_clock::now();
        std::vector<std::optional<json>> records = run_batch(batch);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        for (std::size_t i = 0; i < batch.size(); ++i) {
            // A repetition stopped part way is not recorded (it runs on --resume); those before it are.
            if (!records[i]) return false;
            measured_seconds_ += seconds / static_cast<double>(batch.size());
            ++measured_count_;
            journal_.append(state_.matrix.cells[batch[i].slot.cell].id(), *records[i]);
            state_.records[batch[i].slot.cell].push_back(std::move(*records[i]));
            ++done_;
        }
        if (std::chrono::steady_clock::now() - last_checkpoint_ > checkpoint_interval) checkpoint();
    }
    return true;
}

// After the claims' first repetitions: adaptive rounds for the claims still undecided, then the
// rest of the matrix with what the budget leaves: --reps each, or as few as breadth_floor_reps
// when the rounds took the rest.
class claims_schedule {
public:
    claims_schedule(run_state& state, schedule_runner& runner, const claims_plan& claims, const matrix_request& request,
                    const fs::path& out, std::vector<unsigned> breadth_reps)
        : state_(state),
          runner_(runner),
          claims_(claims),
          request_(request),
          out_(out),
          breadth_reps_(std::move(breadth_reps)) {}

    // False when the run was stopped.
    bool run() {
        // A resumed run whose rounds had ended (and chose the breadth's count) goes on with the breadth.
        const bool rounds_ended = state_.document["plan"].contains("breadth_reps");
        const bool budgeted = request_.budget_seconds > 0 && !rounds_ended;
        if (!rounds_ended && !run_adaptive_rounds(budgeted)) return false;
        if (budgeted && runner_.measured_any()) choose_breadth_reps();
        std::vector<unsigned> none(breadth_reps_.size(), 0);
        append_rounds(state_.matrix, none, breadth_reps_, request_.seed ^ 0x5EEDF00DULL);
        return runner_.run_pending();
    }

private:
    struct round_plan {
        std::vector<unsigned> from, to;
        std::size_t slots = 0;
    };

    bool run_adaptive_rounds(bool budgeted);
    round_plan plan_round(const std::map<std::string, unsigned>& targets) const;

    // The breadth's repetitions not yet run if each of its cells had `reps`.
    std::size_t breadth_slots(unsigned reps) const {
        std::size_t slots = 0;
        for (std::size_t i = 0; i < breadth_reps_.size(); ++i) {
            if (breadth_reps_[i] == 0) continue;
            slots += reps - std::min<unsigned>(reps, static_cast<unsigned>(state_.records[i].size()));
        }
        return slots;
    }
    bool overruns_budget(std::size_t slots) const {
        return runner_.seconds_per_rep() * static_cast<double>(slots) >
               request_.budget_seconds - runner_.seconds_since_start();
    }
    void choose_breadth_reps() {
        unsigned reps = request_.reps;
        while (reps > breadth_floor_reps_ && overruns_budget(breadth_slots(reps))) --reps;
        for (auto& r : breadth_reps_) {
            if (r != 0) r = reps;
        }
        state_.document["plan"]["breadth_reps"] = reps;
        if (reps < request_.reps) {
            std::cout << fmt::format(
                "allocproof: the rest of the matrix gets {} repetitions a cell, not {}: "
                "the claims' rounds took the budget\n",
                reps, request_.reps);
        }
    }

    run_state& state_;
    schedule_runner& runner_;
    const claims_plan& claims_;
    const matrix_request& request_;
    fs::path out_;
    std::vector<unsigned> breadth_reps_;
    const unsigned breadth_floor_reps_ = std::min(request_.reps, 3u);
};

claims_schedule::round_plan claims_schedule::plan_round(const std::map<std::string, unsigned>& targets) const {
    const std::size_t n = state_.matrix.cells.size();
    round_plan next{std::vector<unsigned>(n, 0), std::vector<unsigned>(n, 0), 0};
    for (std::size_t i = 0; i < n; ++i) {
        unsigned have = 0;
        for (const auto& r : state_.records[i]) have = std::max(have, r.at("rep").get<unsigned>() + 1);
        next.from[i] = next.to[i] = have;
        auto wanted = targets.find(state_.matrix.cells[i].id());
        if (claims_.needed[i] && wanted != targets.end() && wanted->second > have) {
            next.to[i] = std::min(wanted->second, claims_.schedule.back());
            next.slots += next.to[i] - have;
        }
    }
    return next;
}

bool claims_schedule::run_adaptive_rounds(bool budgeted) {
    std::string note;
    bool running = true;
    for (unsigned round = 1; running; ++round) {
        runner_.checkpoint();  // the claims evaluator reads results.json
        const auto targets = next_round(out_, request_.claims_file, stop_requested(), note);
        const round_plan next = plan_round(targets);
        if (next.slots == 0) break;
        if (budgeted && runner_.measured_any() && overruns_budget(next.slots + breadth_slots(breadth_floor_reps_))) {
            note = fmt::format(
                "adaptive rounds stopped at round {}: {} more repetitions would overrun the budget "
                "of {:.0f} s",
                round, next.slots, request_.budget_seconds);
            break;
        }
        for (std::size_t i = 0; i < next.to.size(); ++i) {
            if (next.to[i] > next.from[i])
                state_.document["plan"]["extra_reps"][state_.matrix.cells[i].id()] = next.to[i];
        }
        append_rounds(state_.matrix, next.from, next.to, request_.seed ^ (0xA0A0u + round));
        std::cout << fmt::format("allocproof: adaptive round {}: {} repetitions for {} undecided claim rows' cells\n",
                                 round, next.slots, targets.size());
        running = runner_.run_pending();
    }
    if (!note.empty()) std::cout << "allocproof: " << note << "\n";
    return running;
}

// ---- the end of a run ---------------------------------------------------------------------------

// The final document to every reporter; exit_interrupted when the schedule is not done.
int finish_run(schedule_runner& runner, run_state& state, const run_options& options, bool running,
               const reporter_list& reporters) {
    runner.finish_progress();
    const std::size_t total = state.matrix.schedule.size();
    const bool complete = running && runner.done() == total;
    aggregate(state, options, complete ? "complete" : "interrupted");
    report_finish(reporters, state.document);
    if (complete) results_journal(options.out).remove();  // results.json now holds every line of it
    std::cout << fmt::format("\n{} of {} repetitions done; results in {}\n", runner.done(), total,
                             (options.out / "results.json").string());
    if (!complete) {
        std::cerr << fmt::format("allocproof: stopped; finish with: allocproof run --resume --out {}\n",
                                 options.out.string());
        return exit_interrupted;
    }
    // A program whose own allocator would take the place of the one asked for is not a failure
    // of the run: its cell says so (not_applicable) and nothing was measured under a wrong label.
    for (const auto& cell : state.document["cells"]) {
        if (cell["status"] != "ok" && cell["status"] != "not_applicable") return exit_cells_failed;
    }
    return exit_ok;
}

int run_planned(const run_options& options, matrix_request request, const json& stored) {
    run_state state;
    if (request.measure == "instructions") valgrind_program();  // a usage_error when it is not installed
    // What the build can measure, the plugins' strategies with it; loading them is bounded like a
    // cell repetition: --timeout, at most a minute.
    const json plugins = load_catalogue(request.plugins, std::min<std::chrono::milliseconds>(repetition_limit(options),
                                                                                             std::chrono::minutes(1)))
                             .plugins();
    cpu_plan cpus = plan_cpus(options.pin);
    const std::optional<claims_plan> claims = plan_run(state, request, options, cpus, plugins);
    prepare_output(options);
    stop_on_signals();
    // A strategy that fails its conformance check has none of its cells measured (cell_argv says why).
    check_conformance(state.matrix, request, options, stop_requested());
    std::optional<scoped_cpus> driver_side;
    keep_driver_off_cells(cpus, driver_side);
    const std::vector<std::string> added = announce_references_added(state.matrix);
    const json identities = identify_allocators(allocators_of(state.matrix));
    if (options.resume) {
        resume_document(state, stored, options);
    } else if (!new_document(state, options, request, cpus, identities, plugins, added)) {
        std::cerr << "allocproof: stopped while calibrating, before any cell ran: nothing to resume\n";
        return exit_interrupted;
    }
    reporter_list reporters = run_folder_reporters(options.out);
    reporters.push_back(console_reporter(std::cout));
    try {
        write_checkpoint(state, options, reporters);
    } catch (const std::runtime_error& e) {
        throw usage_error(e.what());
    }
    std::vector<unsigned> breadth_reps;
    if (claims) breadth_reps = schedule_claims_first(state, *claims, request);
    schedule_runner runner(state, options, request, cpus, identities, reporters);
    try {
        bool running = runner.run_pending();
        if (running && claims) {
            running = claims_schedule(state, runner, *claims, request, options.out, std::move(breadth_reps)).run();
        }
        return finish_run(runner, state, options, running, reporters);
    } catch (const std::runtime_error& e) {
        runner.finish_progress();
        std::cerr << "allocproof: error: " << e.what() << "\n";
        return exit_io;
    }
}

}  // namespace

}  // namespace allocproof::driver
