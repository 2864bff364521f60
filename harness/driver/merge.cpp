#include "harness/driver/merge.hpp"

#include "harness/driver/cell_kind.hpp"
#include "harness/driver/exit_codes.hpp"
#include "harness/driver/matrix.hpp"
#include "harness/driver/results_file.hpp"
#include "harness/driver/run_reporter.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <map>
#include <tuple>

namespace allocproof::driver {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Two environments are one machine when their hardware, system and allocators are the same:
// shards run on identical CI runners are one machine, whatever their host names and start times.
std::string machine_signature(const json& env) {
    json key = json::object();
    for (const char* name : {"cpu_model", "logical_cpus", "memory_total", "kernel", "os"}) {
        key[name] = env.value(name, json(nullptr));
    }
    if (env.contains("allocators") && env["allocators"].is_object()) {
        for (const auto& [name, identity] : env["allocators"].items()) {
            if (identity.is_object() && identity.contains("version")) key["allocator_" + name] = identity["version"];
        }
    }
    return key.dump();
}

// What must be equal for two runs to be parts of one plan: the request but its shard, and the
// plugins by what they are (name, tag, strategies), not by where each machine keeps them.
json request_without_shard(const json& document) {
    json request = document.value("plan", json::object()).value("request", json::object());
    request.erase("shard");
    request.erase("plugins");
    json plugins = document.value("plugins", json::array());
    for (auto& plugin : plugins) {
        if (plugin.is_object()) plugin.erase("path");
    }
    request["plugins"] = plugins;
    return request;
}

// A cell's digest group (results/SCHEMA.md §5), on its machine: statuses, reference digests and
// ratios to std were decided within it, so a group must come whole from one input.
std::string group_of(const json& cell, long long machine) {
    return fmt::format("{}|{}", machine, kind_of(cell).record_group(cell));
}

int status_rank(const std::string& status) {
    return status == "complete" ? 0 : status == "interrupted" ? 1 : 2;  // running: the process died
}

// Machine by machine, the order of make_plan: the one key of the plan's order (cell_kind.hpp).
auto plan_order(const json& cell) { return std::make_tuple(cell.value("machine", 0LL), plan_order_key(cell)); }

// The merge so far: the machines found, where each cell and digest group came from, and the cells.
struct merged_run {
    std::vector<json> machines;
    std::map<std::string, long long> machine_index;
    std::map<std::pair<long long, std::string>, std::string> cell_from;  // (machine, id) -> input
    std::map<std::string, std::string> group_from;
    json cells = json::array(), inputs = json::array(), first;
    json calibrated = json::array();  // every input's calibrated groups, each on its machine
    std::string status = "complete";
};

// The merged run's index of each of the input's machines: a merged input brings its own
// machines; a run is one machine, its environment.
std::vector<long long> add_machines(merged_run& merged, const json& document) {
    const json own = document.contains("machines") ? document["machines"]
                                                   : json::array({document.value("environment", json::object())});
    std::vector<long long> global(own.size());
    for (std::size_t m = 0; m < own.size(); ++m) {
        const auto [it, added] = merged.machine_index.emplace(machine_signature(own[m]), merged.machines.size());
        if (added) merged.machines.push_back(own[m]);
        global[m] = it->second;
    }
    return global;
}

void add_calibration(merged_run& merged, const json& document, const std::vector<long long>& global) {
    const json calibration = document.value("plan", json::object()).value("calibration", json(nullptr));
    for (json group : calibration.is_object() ? calibration.value("groups", json::array()) : json::array()) {
        const auto local = group.value("machine", 0LL);
        if (local >= 0 && static_cast<std::size_t>(local) < global.size()) group["machine"] = global[local];
        merged.calibrated.push_back(std::move(group));
    }
}

void add_cells(merged_run& merged, json& document, const std::vector<long long>& global, const std::string& file) {
    for (auto& cell : document["cells"]) {
        const auto local = cell.value("machine", 0LL);
        if (static_cast<std::size_t>(local) >= global.size()) {
            throw usage_error(fmt::format("{} is malformed: cell {} names machine {}, which it does not list", file,
                                          cell["id"].get<std::string>(), local));
        }
        cell["machine"] = global[local];
        const std::string id = cell["id"];
        if (const auto [it, added] = merged.cell_from.emplace(std::pair(global[local], id), file); !added) {
            throw usage_error(
                fmt::format("cell {} of machine {} is in both {} and {}", id, global[local], it->second, file));
        }
        const std::string group = group_of(cell, global[local]);
        if (const auto [it, added] = merged.group_from.emplace(group, file); !added && it->second != file) {
            throw usage_error(
                fmt::format("the cells of {} (threads {}) on machine {} are split between {} and {}: their digests and "
                            "ratios to std were judged apart; merge whole runs or the shards of one",
                            cell.value("workload", "?"), cell.value("threads", 0), global[local], it->second, file));
        }
        merged.cells.push_back(std::move(cell));
    }
}

void add_input(merged_run& merged, json document, const fs::path& file, const merge_options& options) {
    if (merged.first.is_null()) {
        merged.first = document;
    } else if (!options.allow_different_plans &&
               request_without_shard(document) != request_without_shard(merged.first)) {
        throw usage_error(
            fmt::format("{} was planned differently from {} (its request differs in more than "
                        "--shard); --allow-different-plans joins them anyway",
                        file.string(), options.inputs.front()));
    }
    const std::string status = document.value("status", "running");
    if (status_rank(status) > status_rank(merged.status)) merged.status = status;
    const std::vector<long long> global = add_machines(merged, document);
    add_calibration(merged, document, global);
    const std::size_t cell_count = document["cells"].size();
    add_cells(merged, document, global, file.string());
    const json request = document.value("plan", json::object()).value("request", json::object());
    const json environment = document.value("environment", json::object());
    merged.inputs.push_back({{"path", file.string()},
                             {"status", status},
                             {"time", environment.value("time", json(nullptr))},
                             {"git_commit", environment.value("git_commit", json(nullptr))},
                             {"shard", request.value("shard", json(nullptr))},
                             {"machines", global},
                             {"cells", cell_count}});
}

json merged_document(merged_run& merged, const merge_options& options) {
    std::stable_sort(merged.cells.begin(), merged.cells.end(),
                     [](const json& a, const json& b) { return plan_order(a) < plan_order(b); });
    json document = merged.first;
    document["status"] = merged.status;
    document["environment"] = merged.machines.front();
    document["machines"] = merged.machines;
    document["plan"]["cells"] = merged.cells.size();
    document["cells"] = std::move(merged.cells);
    // Each shard calibrated its own groups: the merged plan shows them all.
    if (!merged.calibrated.empty()) {
        const json first_calibration = merged.first["plan"].value("calibration", json(nullptr));
        document["plan"]["calibration"] = {
            {"min_phase_ms",
             first_calibration.is_object() ? first_calibration.value("min_phase_ms", json(nullptr)) : json(nullptr)},
            {"groups", merged.calibrated}};
    }
    document["merge"] = {{"inputs", merged.inputs}, {"allow_different_plans", options.allow_different_plans}};
    return document;
}

}  // namespace

CLI::App* add_merge_command(CLI::App& app, merge_options& options) {
    auto* merge = app.add_subcommand(
        "merge", "join run folders (the shards of `run --shard`, or runs of other machines) into one results file");
    merge->add_option("inputs", options.inputs, "run folders or results.json(.gz) files")->required();
    merge->add_option("--out,-o", options.out, "folder to write the merged results.json and summary.csv to")
        ->required();
    merge->add_flag("--allow-different-plans", options.allow_different_plans,
                    "join runs whose requests differ in more than the shard (e.g. other workloads)");
    return merge;
}

int merge_command(const merge_options& options) {
    try {
        const fs::path out = options.out;
        if (fs::exists(out / "results.json")) {
            throw usage_error(fmt::format("{} already holds a run: merge into a new folder", out.string()));
        }
        merged_run merged;
        for (const auto& input : options.inputs) {
            fs::path file;
            json document = load_results(input, &file, /*keep_raw=*/true);
            add_input(merged, std::move(document), file, options);
        }
        const std::size_t machines = merged.machines.size();
        const json document = merged_document(merged, options);
        std::error_code error;
        fs::create_directories(out, error);
        if (error) throw usage_error(fmt::format("cannot create {}: {}", out.string(), error.message()));
        report_finish(run_folder_reporters(out), document);
        std::cout << fmt::format("merged {} input(s): {} cells on {} machine(s), status {} -> {}\n",
                                 options.inputs.size(), document["cells"].size(), machines, merged.status,
                                 (out / "results.json").string());
        return exit_ok;
    } catch (const std::exception& e) {  // usage_error, and a file that could not be written
        std::cerr << "allocproof: error: " << e.what() << "\n";
        return exit_usage;
    }
}

}  // namespace allocproof::driver
