#include "harness/driver/merge.hpp"

#include "harness/driver/allocator_catalogue.hpp"
#include "harness/driver/compare.hpp"
#include "harness/driver/matrix.hpp"
#include "harness/driver/results.hpp"

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
    if (cell.contains("external")) return fmt::format("{}|{}", machine, cell.value("workload", ""));
    return fmt::format("{}|{}|{}|{}", machine, cell.value("workload", ""), cell.value("threads", 0),
                       cell.value("params", json(nullptr)).dump());
}

int status_rank(const std::string& status) {
    return status == "complete" ? 0 : status == "interrupted" ? 1 : 2;  // running: the process died
}

// The order of make_plan: machine, model before external workloads, workload, std first, allocators
// in their fixed order, threads.
auto plan_order(const json& cell) {
    return std::make_tuple(cell.value("machine", 0LL), cell.contains("external"), cell.value("workload", ""),
                           cell.value("strategy", "") != "std", cell.value("strategy", ""),
                           allocator_rank(cell.value("allocator", "")), cell.value("allocator", ""), cell.value("threads", 0));
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
        std::vector<json> machines;
        std::map<std::string, long long> machine_index;
        std::map<std::pair<long long, std::string>, std::string> cell_from;  // (machine, id) -> input
        std::map<std::string, std::string> group_from;
        json cells = json::array(), inputs = json::array(), first;
        json calibrated = json::array();  // every input's calibrated groups, each on its machine
        std::string status = "complete";
        for (const auto& input : options.inputs) {
            fs::path file;
            json document = load_results(input, &file, /*keep_raw=*/true);
            if (first.is_null()) {
                first = document;
            } else if (!options.allow_different_plans && request_without_shard(document) != request_without_shard(first)) {
                throw usage_error(fmt::format("{} was planned differently from {} (its request differs in more than "
                                              "--shard); --allow-different-plans joins them anyway",
                                              file.string(), options.inputs.front()));
            }
            if (status_rank(document.value("status", "running")) > status_rank(status)) status = document["status"];
            // A merged input brings its own machines; a run is one machine, its environment.
            const json own = document.contains("machines") ? document["machines"]
                                                           : json::array({document.value("environment", json::object())});
            std::vector<long long> global(own.size());
            for (std::size_t m = 0; m < own.size(); ++m) {
                const auto [it, added] = machine_index.emplace(machine_signature(own[m]), machines.size());
                if (added) machines.push_back(own[m]);
                global[m] = it->second;
            }
            const json calibration = document.value("plan", json::object()).value("calibration", json(nullptr));
            for (json group : calibration.is_object() ? calibration.value("groups", json::array()) : json::array()) {
                const auto local = group.value("machine", 0LL);
                if (local >= 0 && static_cast<std::size_t>(local) < global.size()) group["machine"] = global[local];
                calibrated.push_back(std::move(group));
            }
            for (auto& cell : document["cells"]) {
                const auto local = cell.value("machine", 0LL);
                if (local < 0 || static_cast<std::size_t>(local) >= global.size()) {
                    throw usage_error(fmt::format("{} is malformed: cell {} names machine {}, which it does not list",
                                                  file.string(), cell.value("id", "?"), local));
                }
                cell["machine"] = global[local];
                const std::string id = cell.value("id", "");
                if (const auto [it, added] = cell_from.emplace(std::pair(global[local], id), file.string()); !added) {
                    throw usage_error(fmt::format("cell {} of machine {} is in both {} and {}", id, global[local],
                                                  it->second, file.string()));
                }
                const std::string group = group_of(cell, global[local]);
                if (const auto [it, added] = group_from.emplace(group, file.string()); !added && it->second != file.string()) {
                    throw usage_error(fmt::format(
                        "the cells of {} (threads {}) on machine {} are split between {} and {}: their digests and "
                        "ratios to std were judged apart; merge whole runs or the shards of one",
                        cell.value("workload", "?"), cell.value("threads", 0), global[local], it->second, file.string()));
                }
                cells.push_back(std::move(cell));
            }
            const json request = document.value("plan", json::object()).value("request", json::object());
            inputs.push_back({{"path", file.string()},
                              {"status", document.value("status", "running")},
                              {"time", document.value("environment", json::object()).value("time", json(nullptr))},
                              {"git_commit", document.value("environment", json::object()).value("git_commit", json(nullptr))},
                              {"shard", request.value("shard", json(nullptr))},
                              {"machines", global},
                              {"cells", document["cells"].size()}});
        }
        std::stable_sort(cells.begin(), cells.end(),
                         [](const json& a, const json& b) { return plan_order(a) < plan_order(b); });

        json merged = first;
        merged["status"] = status;
        merged["environment"] = machines.front();
        merged["machines"] = machines;
        merged["cells"] = std::move(cells);
        merged["plan"]["cells"] = merged["cells"].size();
        // Each shard calibrated its own groups: the merged plan shows them all.
        if (!calibrated.empty()) {
            const json first_calibration = first["plan"].value("calibration", json(nullptr));
            merged["plan"]["calibration"] = {
                {"min_phase_ms", first_calibration.is_object() ? first_calibration.value("min_phase_ms", json(nullptr))
                                                               : json(nullptr)},
                {"groups", calibrated}};
        }
        merged["merge"] = {{"inputs", inputs}, {"allow_different_plans", options.allow_different_plans}};
        std::error_code error;
        fs::create_directories(out, error);
        if (error) throw usage_error(fmt::format("cannot create {}: {}", out.string(), error.message()));
        atomic_write(out / "results.json", merged.dump(1) + "\n");
        atomic_write(out / "summary.csv", summary_csv(merged["cells"]));
        std::cout << fmt::format("merged {} input(s): {} cells on {} machine(s), status {} -> {}\n",
                                 options.inputs.size(), merged["cells"].size(), machines.size(), status,
                                 (out / "results.json").string());
        return 0;
    } catch (const usage_error& e) {
        std::cerr << "allocproof: error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "allocproof: error: " << e.what() << "\n";
        return 2;
    }
}

}  // namespace allocproof::driver
