#include "harness/driver/instruction_pass.hpp"

#include "harness/driver/callgrind_file.hpp"

#include "harness/driver/child_process.hpp"
#include "harness/driver/claims_plan.hpp"
#include "harness/driver/compare.hpp"
#include "harness/driver/external.hpp"
#include "harness/driver/results.hpp"
#include "harness/driver/run.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
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

std::atomic<bool> stop_requested{false};
extern "C" void request_instruction_stop(int) { stop_requested.store(true); }

struct counted {
    instruction_split split;
    std::string digest;
};

// The instructions collected in a cell's measured phase (the cell program switches collection on
// and off around it: harness/thread_probes.cpp), split, and the cell's digest. Throws with the
// reason when the count cannot be had.
counted count_instructions(const std::string& valgrind, std::vector<std::string> argv,
                           const instruction_options& options, std::size_t job) {
    const fs::path out = fs::temp_directory_path() / fmt::format("allocproof-callgrind-{}-{}.out", ::getpid(), job);
    argv.insert(argv.begin(), {valgrind, "--tool=callgrind", "--collect-atstart=no",
                               "--callgrind-out-file=" + out.string()});
    const auto limit = std::chrono::milliseconds(static_cast<long long>(options.timeout_seconds * 1000));
    const child_outcome outcome = run_child(argv, limit, stop_requested);
    struct remove_at_exit {
        const fs::path& path;
        ~remove_at_exit() {
            std::error_code e;
            fs::remove(path, e);
        }
    } cleanup{out};
    if (outcome.interrupted) throw std::runtime_error("stopped");
    if (outcome.timed_out) throw std::runtime_error(fmt::format("callgrind ran past {:.0f} s", options.timeout_seconds));
    if (outcome.exit_code != 0) {
        // The cell's own words, without callgrind's lines (each begins "==pid==").
        std::istringstream err(outcome.err);
        std::string said;
        for (std::string text; std::getline(err, text);) {
            if (text.rfind("==", 0) != 0 && !text.empty()) said += (said.empty() ? "" : " ") + text;
        }
        throw std::runtime_error(fmt::format("the cell under callgrind exited with {}{}: {}", outcome.exit_code,
                                             outcome.signal ? " (" + signal_name(outcome.signal) + ")" : "",
                                             said.substr(0, 300)));
    }
    const instruction_split split = split_callgrind_file(out.string());
    if (split.total <= 0) {
        throw std::runtime_error("callgrind collected nothing: the cell program was built without valgrind's "
                                 "client-request header (valgrind/callgrind.h)");
    }
    const json record = json::parse(outcome.out, nullptr, false);
    if (record.is_discarded() || !record.is_object() || !record.contains("measurement") ||
        !record["measurement"].is_object() || !record["measurement"].contains("digest")) {
        throw std::runtime_error("the cell under callgrind printed no record with a digest");
    }
    return {split, record["measurement"]["digest"].dump()};
}

}  // namespace

CLI::App* add_instructions_command(CLI::App& app, instruction_options& options) {
    auto* command = app.add_subcommand(
        "instructions",
        "count, under callgrind, the instructions of each 1-thread cell's operations and the part of them that "
        "allocation's code executed (the strategy's, the global allocator's): added to results.json");
    command->add_option("run", options.run, "a finished run's folder (its results.json)")->required();
    command->add_option("--cells", options.cells,
                        "claims: the 1-thread cells whose counts the run's claims file reads (its allocation-level "
                        "claims and every claim's context); all: every ok 1-thread model cell")
        ->check(CLI::IsMember({"claims", "all"}))->capture_default_str();
    command->add_option("--claims", options.claims_file, "the claims file (default: the run's own)");
    command->add_option("--ops", options.ops, "measured operations per count (at most the cell's own)")
        ->check(CLI::Range(std::uint64_t{100}, std::uint64_t{100'000'000}))->capture_default_str();
    command->add_option("--timeout", options.timeout_seconds, "seconds one callgrind run may take")
        ->check(CLI::PositiveNumber)->capture_default_str();
    command->add_flag("--redo", options.redo, "count again cells that already have counts");
    return command;
}

int instructions_command(const instruction_options& options) {
    fs::path file;
    json document;
    try {
        document = load_results(options.run, &file, true);
    } catch (const usage_error& e) {
        std::cerr << "allocproof instructions: " << e.what() << "\n";
        return exit_usage;
    }
    if (file.extension() == ".gz") {
        std::cerr << "allocproof instructions: " << file.string()
                  << " is compressed: the pass writes into a run's results.json\n";
        return exit_usage;
    }
    const std::string valgrind = find_program("valgrind");
    if (valgrind.empty()) {
        std::cerr << "allocproof instructions: valgrind is not installed (apt-get install valgrind)\n";
        return exit_usage;
    }
    matrix_request request;
    run_options settings;
    try {
        request = matrix_request_from_json(document.at("plan").at("request"));
        settings.memory_limit_mib = document.at("plan").value("memory_limit_mib", std::uint64_t{0});
    } catch (const std::exception& e) {
        std::cerr << "allocproof instructions: " << file.string() << ": the stored plan is malformed (" << e.what()
                  << ")\n";
        return exit_usage;
    }

    // The cells to count: ok, one thread, model cells (a real program runs its own threads).
    json& cells = document["cells"];
    plan candidates;
    std::vector<std::size_t> index_of;
    for (std::size_t i = 0; i < cells.size(); ++i) {
        const json& c = cells[i];
        if (c.value("status", "") != "ok" || c.value("threads", 0u) != 1u || !c.contains("params") ||
            c.value("strategy", "") == external_strategy) {
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
    std::vector<bool> chosen(candidates.cells.size(), options.cells == "all");
    if (options.cells == "claims") {
        const std::string claims_file = !options.claims_file.empty()
                                            ? options.claims_file
                                            : request.claims_file;
        if (claims_file.empty()) {
            std::cerr << "allocproof instructions: the run had no claims file: give --claims FILE or --cells all\n";
            return exit_usage;
        }
        try {
            chosen = plan_claims(candidates, claims_file, claim_cells::instructions).needed;
        } catch (const usage_error& e) {
            std::cerr << "allocproof instructions: " << e.what() << "\n";
            return exit_usage;
        }
    }

    std::signal(SIGINT, request_instruction_stop);
    std::signal(SIGTERM, request_instruction_stop);
    std::size_t done = 0, failed = 0;
    // The digest each cell computed under callgrind, by what its operations were: every strategy
    // must compute std's, or its instructions were spent on other work.
    std::map<std::string, std::string> std_digest;
    std::vector<std::pair<std::size_t, std::string>> digests;  // (cell index, group key)
    auto group_key = [](const planned_cell& c) {
        return fmt::format("{}|{}|{}|{}|{}", c.workload, c.params.scale.ops_per_thread, c.params.scale.working_set,
                           c.params.scale.warmup_ops, c.params.seed);
    };
    // Counts do not depend on what else the machine runs: as many callgrinds at once as CPUs.
    struct job {
        std::size_t k;
        planned_cell cell;
        std::optional<counted> result;
        std::string error;
    };
    std::vector<job> jobs;
    for (std::size_t k = 0; k < candidates.cells.size(); ++k) {
        if (!chosen[k] || (cells[index_of[k]].contains("instructions") && !options.redo)) continue;
        planned_cell cell = candidates.cells[k];
        cell.params.scale.ops_per_thread = std::min(cell.params.scale.ops_per_thread, options.ops);
        jobs.push_back({k, std::move(cell), std::nullopt, {}});
    }
    std::atomic<std::size_t> next{0}, finished{0};
    auto worker = [&](std::size_t slot) {
        for (std::size_t j = next++; j < jobs.size() && !stop_requested.load(); j = next++) {
            try {
                jobs[j].result = count_instructions(valgrind, cell_argv(jobs[j].cell, request, settings), options, slot);
            } catch (const std::exception& e) {
                jobs[j].error = e.what();
            }
            const std::size_t now = ++finished;
            if (isatty(STDERR_FILENO)) {
                std::cerr << fmt::format("\rallocproof instructions: {}/{} cells counted", now, jobs.size());
            }
        }
    };
    {
        std::vector<std::jthread> workers;
        const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
        for (unsigned slot = 0; slot < std::min<std::size_t>(cpus, jobs.size()); ++slot) workers.emplace_back(worker, slot);
    }
    for (job& j : jobs) {
        json& record = cells[index_of[j.k]];
        const std::uint64_t ops = j.cell.params.scale.ops_per_thread;
        if (!j.result) {
            if (j.error.empty() || stop_requested.load()) continue;  // not run: it will be on the next pass
            record["instructions"] = {{"tool", "callgrind"}, {"ops", ops}, {"error", j.error}};
            ++failed;
            continue;
        }
        const counted& mine = *j.result;
        const double per_op = mine.split.total / static_cast<double>(ops);
        const double allocation = mine.split.allocation / static_cast<double>(ops);
        record["instructions"] = {{"tool", "callgrind"},
                                  {"ops", ops},
                                  {"per_op", per_op},
                                  {"allocation_per_op", allocation},
                                  {"other_per_op", per_op - allocation},
                                  {"allocation_share", allocation / per_op},
                                  {"digest", mine.digest}};
        // Where the hardware gave no counts (a VM), the cell's instructions per operation are callgrind's.
        json& summary = record["metrics"]["instructions_per_op"];
        if (summary.is_null()) {
            summary = {{"median", per_op}, {"min", per_op}, {"max", per_op}, {"cv", 0.0}, {"n", 1},
                       {"source", "callgrind"}};
        }
        if (j.cell.strategy == "std") std_digest[group_key(j.cell)] = mine.digest;
        digests.emplace_back(index_of[j.k], group_key(j.cell));
        ++done;
    }
    for (const auto& [index, key] : digests) {
        json& counts = cells[index]["instructions"];
        const auto reference = std_digest.find(key);
        if (reference == std_digest.end()) {
            counts["digest_check"] = "no std cell was counted on the same operations";
        } else if (reference->second != counts["digest"].get<std::string>()) {
            counts = {{"tool", "callgrind"}, {"ops", counts["ops"]},
                      {"error", fmt::format("computed digest {} where std computed {} on the same operations: other "
                                            "work, so its instructions are not comparable",
                                            counts["digest"].get<std::string>(), reference->second)}};
            --done;
            ++failed;
        } else {
            counts["digest_check"] = "std's";
        }
    }
    if (isatty(STDERR_FILENO)) std::cerr << "\n";
    document["instruction_pass"] = {{"tool", "callgrind"}, {"cells", options.cells}, {"ops", options.ops}};
    try {
        atomic_write(file, document.dump(1) + "\n");
    } catch (const std::exception& e) {
        std::cerr << "allocproof instructions: " << e.what() << "\n";
        return exit_io;
    }
    std::cout << fmt::format("allocproof instructions: {} cells counted, {} failed{}; written to {}\n", done, failed,
                             stop_requested.load() ? " (stopped: run it again to finish)" : "", file.string());
    if (stop_requested.load()) return exit_interrupted;
    return failed == 0 ? exit_ok : exit_cells_failed;
}

}  // namespace allocproof::driver
