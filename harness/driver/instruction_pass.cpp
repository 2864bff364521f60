#include "harness/driver/instruction_pass.hpp"

#include "harness/driver/callgrind_run.hpp"
#include "harness/driver/cell_kind.hpp"

#include "harness/driver/child_process.hpp"
#include "harness/driver/claims_plan.hpp"
#include "harness/driver/exit_codes.hpp"
#include "harness/driver/results_file.hpp"
#include "harness/driver/run.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include <unistd.h>

namespace allocproof::driver {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct counted {
    instruction_split split;
    std::string digest;
};

// The instructions collected in a cell's measured phase, split, and the cell's digest. Throws
// with the reason when the count cannot be had.
counted count_instructions(const std::string& valgrind, std::vector<std::string> argv,
                           const instruction_options& options, std::size_t job) {
    const auto limit = std::chrono::milliseconds(static_cast<long long>(options.timeout_seconds * 1000));
    const callgrind_count count = count_under_callgrind(valgrind, std::move(argv), limit, stop_requested(), job);
    if (!count.error.empty()) throw std::runtime_error(count.error);
    const json record = json::parse(count.outcome.out, nullptr, false);
    if (record.is_discarded() || !record.is_object() || !record.contains("measurement") ||
        !record["measurement"].is_object() || !record["measurement"].contains("digest")) {
        throw std::runtime_error("the cell under callgrind printed no record with a digest");
    }
    return {count.split, record["measurement"]["digest"].dump()};
}

// The run the pass counts, and what its cells were run with.
struct stored_run {
    fs::path file;
    json document;
    matrix_request request;
    run_options settings;  // the memory limit the run's cells had
};

stored_run open_run(const instruction_options& options) {
    stored_run run;
    run.document = load_results(options.run, &run.file, /*keep_raw=*/true);
    if (run.file.extension() == ".gz") {
        throw usage_error(run.file.string() + " is compressed: the pass writes into a run's results.json");
    }
    try {
        run.request = matrix_request_from_json(run.document.at("plan").at("request"));
        run.settings.memory_limit_mib = run.document.at("plan").value("memory_limit_mib", std::uint64_t{0});
    } catch (const std::exception& e) {
        throw usage_error(fmt::format("{}: the stored plan is malformed ({})", run.file.string(), e.what()));
    }
    return run;
}

// The cells that can be counted: ok, one thread, of a kind the pass counts (a model cell; a real
// program runs its own threads), as a plan, and each one's index in `cells`.
std::pair<plan, std::vector<std::size_t>> countable_cells(const json& cells) {
    plan candidates;
    std::vector<std::size_t> index_of;
    for (std::size_t i = 0; i < cells.size(); ++i) {
        const json& c = cells[i];
        if (c.value("status", "") != "ok" || c.value("threads", 0u) != 1u || !c.contains("params") ||
            !kind_of(c).instruction_counted()) {
            continue;
        }
        planned_cell cell{c["workload"], c["strategy"], c["allocator"], 1, {}, nullptr};
        cell.params.scale = {c["params"].at("ops_per_thread").get<std::uint64_t>(),
                             c["params"].at("working_set").get<std::uint64_t>(),
                             c["params"].at("warmup_ops").get<std::uint64_t>()};
        cell.params.seed = c["params"].at("seed").get<std::uint64_t>();
        cell.params.threads = 1;
        candidates.cells.push_back(std::move(cell));
        index_of.push_back(i);
    }
    return {std::move(candidates), std::move(index_of)};
}

std::vector<bool> chosen_cells(const plan& candidates, const stored_run& run, const instruction_options& options) {
    if (options.cells == "all") return std::vector<bool>(candidates.cells.size(), true);
    const std::string claims_file = !options.claims_file.empty() ? options.claims_file : run.request.claims_file;
    if (claims_file.empty()) throw usage_error("the run had no claims file: give --claims FILE or --cells all");
    return plan_claims(candidates, claims_file, claim_cells::instructions).needed;
}

struct count_job {
    std::size_t cell_index;  // in results.json's cells
    planned_cell cell;
    std::optional<counted> result;
    std::string error;
};

// Counts do not depend on what else the machine runs: as many callgrinds at once as CPUs.
void run_jobs(std::vector<count_job>& jobs, const std::string& valgrind, const stored_run& run,
              const instruction_options& options) {
    std::atomic<std::size_t> next{0}, finished{0};
    auto worker = [&](std::size_t slot) {
        for (std::size_t j = next++; j < jobs.size() && !stop_requested().load(); j = next++) {
            try {
                jobs[j].result =
                    count_instructions(valgrind, cell_argv(jobs[j].cell, run.request, run.settings), options, slot);
            } catch (const std::exception& e) {
                jobs[j].error = e.what();
            }
            const std::size_t now = ++finished;
            if (isatty(STDERR_FILENO)) {
                std::cerr << fmt::format("\rallocproof instructions: {}/{} cells counted", now, jobs.size());
            }
        }
    };
    std::vector<std::jthread> workers;
    const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned slot = 0; slot < std::min<std::size_t>(cpus, jobs.size()); ++slot) workers.emplace_back(worker, slot);
}

// The cells' operations, for the digest check: what std computed on the same operations.
std::string operations_key(const planned_cell& c) {
    return fmt::format("{}|{}|{}|{}|{}", c.workload, c.params.scale.ops_per_thread, c.params.scale.working_set,
                       c.params.scale.warmup_ops, c.params.seed);
}

struct pass_tally {
    std::size_t done = 0, failed = 0;
};

// Writes each job's counts into its cell; then holds each to the digest std computed under
// callgrind on the same operations: a strategy that computed another did other work, and its
// instructions are not comparable.
pass_tally record_counts(const std::vector<count_job>& jobs, json& cells) {
    pass_tally tally;
    std::map<std::string, std::string> std_digest;
    for (const count_job& j : jobs) {
        json& record = cells[j.cell_index];
        const std::uint64_t ops = j.cell.params.scale.ops_per_thread;
        if (!j.result) {
            if (j.error.empty() || stop_requested().load()) continue;  // not run: it will be on the next pass
            record["instructions"] = {{"tool", "callgrind"}, {"ops", ops}, {"error", j.error}};
            ++tally.failed;
            continue;
        }
        const double per_op = j.result->split.total / static_cast<double>(ops);
        const double allocation = j.result->split.allocation / static_cast<double>(ops);
        record["instructions"] = {{"tool", "callgrind"},
                                  {"ops", ops},
                                  {"per_op", per_op},
                                  {"allocation_per_op", allocation},
                                  {"other_per_op", per_op - allocation},
                                  {"allocation_share", allocation / per_op},
                                  {"digest", j.result->digest}};
        // Where the hardware gave no counts (a VM), the cell's instructions per operation are callgrind's.
        json& summary = record["metrics"]["instructions_per_op"];
        if (summary.is_null()) {
            summary = {{"median", per_op}, {"min", per_op}, {"max", per_op},
                       {"cv", 0.0},        {"n", 1},        {"source", "callgrind"}};
        }
        if (j.cell.strategy == "std") std_digest[operations_key(j.cell)] = j.result->digest;
        ++tally.done;
    }
    for (const count_job& j : jobs) {
        if (!j.result) continue;
        json& counts = cells[j.cell_index]["instructions"];
        const auto reference = std_digest.find(operations_key(j.cell));
        if (reference == std_digest.end()) {
            counts["digest_check"] = "no std cell was counted on the same operations";
        } else if (reference->second != j.result->digest) {
            counts = {{"tool", "callgrind"},
                      {"ops", counts["ops"]},
                      {"error", fmt::format("computed digest {} where std computed {} on the same operations: other "
                                            "work, so its instructions are not comparable",
                                            j.result->digest, reference->second)}};
            --tally.done;
            ++tally.failed;
        } else {
            counts["digest_check"] = "std's";
        }
    }
    return tally;
}

}  // namespace

CLI::App* add_instructions_command(CLI::App& app, instruction_options& options) {
    auto* command = app.add_subcommand(
        "instructions",
        "count, under callgrind, the instructions of each 1-thread cell's operations and the part of them that "
        "allocation's code executed (the strategy's, the global allocator's): added to results.json");
    command->add_option("run", options.run, "a finished run's folder (its results.json)")->required();
    command
        ->add_option("--cells", options.cells,
                     "claims: the 1-thread cells whose counts the run's claims file reads (its allocation-level "
                     "claims and every claim's context); all: every ok 1-thread model cell")
        ->check(CLI::IsMember({"claims", "all"}))
        ->capture_default_str();
    command->add_option("--claims", options.claims_file, "the claims file (default: the run's own)");
    command->add_option("--ops", options.ops, "measured operations per count (at most the cell's own)")
        ->check(CLI::Range(std::uint64_t{100}, std::uint64_t{100'000'000}))
        ->capture_default_str();
    command->add_option("--timeout", options.timeout_seconds, "seconds one callgrind run may take")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    command->add_flag("--redo", options.redo, "count again cells that already have counts");
    return command;
}

int instructions_command(const instruction_options& options) {
    stored_run run;
    std::vector<count_job> jobs;
    std::string valgrind;
    try {
        run = open_run(options);
        valgrind = valgrind_program();
        const auto [candidates, index_of] = countable_cells(run.document["cells"]);
        const std::vector<bool> chosen = chosen_cells(candidates, run, options);
        for (std::size_t k = 0; k < candidates.cells.size(); ++k) {
            if (!chosen[k] || (run.document["cells"][index_of[k]].contains("instructions") && !options.redo)) continue;
            planned_cell cell = candidates.cells[k];
            cell.params.scale.ops_per_thread = std::min(cell.params.scale.ops_per_thread, options.ops);
            jobs.push_back({index_of[k], std::move(cell), std::nullopt, {}});
        }
    } catch (const usage_error& e) {
        std::cerr << "allocproof instructions: " << e.what() << "\n";
        return exit_usage;
    }
    stop_on_signals();
    run_jobs(jobs, valgrind, run, options);
    const pass_tally tally = record_counts(jobs, run.document["cells"]);
    if (isatty(STDERR_FILENO)) std::cerr << "\n";
    run.document["instruction_pass"] = {{"tool", "callgrind"}, {"cells", options.cells}, {"ops", options.ops}};
    try {
        atomic_write(run.file, run.document.dump(1) + "\n");
    } catch (const std::exception& e) {
        std::cerr << "allocproof instructions: " << e.what() << "\n";
        return exit_io;
    }
    std::cout << fmt::format("allocproof instructions: {} cells counted, {} failed{}; written to {}\n", tally.done,
                             tally.failed, stop_requested().load() ? " (stopped: run it again to finish)" : "",
                             run.file.string());
    if (stop_requested().load()) return exit_interrupted;
    return tally.failed == 0 ? exit_ok : exit_cells_failed;
}

}  // namespace allocproof::driver
