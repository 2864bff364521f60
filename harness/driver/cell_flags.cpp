#include "harness/driver/cell_flags.hpp"

#include "harness/driver/cell_kind.hpp"

#include "allocproof/registry.hpp"  // baseline_strategy

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <tuple>

namespace allocproof::driver {

using json = nlohmann::json;

namespace {

// The bounds. Each asks for a large factor AND a large absolute difference, so that noise on a
// small figure (a few MiB of RSS, a millisecond of setup) never raises a flag.
constexpr double mib = 1024.0 * 1024.0;
constexpr double memory_factor = 4.0;           // holds 4x std's memory at the end of the phase
constexpr double memory_floor = 32 * mib;       // and 32 MiB more
constexpr double unexplained_floor = 32 * mib;  // resident memory operator new does not explain
constexpr double outside_share = 0.5;           // setup + teardown beyond std's: half std's phase
constexpr double outside_floor_ns = 2e6;        // and 2 ms
constexpr double helper_share = 0.25;           // CPU off the workers: a quarter of theirs
constexpr double helper_floor_ns = 2e6;         // and 2 ms

std::optional<double> median_value(const json& cell, const char* metric) {
    const json& metrics = cell.value("metrics", json::object());
    auto found = metrics.find(metric);
    if (found == metrics.end() || !found->is_object()) return std::nullopt;
    const json& median = found->value("median", json(nullptr));
    if (!median.is_number()) return std::nullopt;
    return median.get<double>();
}

// The workers' CPU over the measured phase, in ns (the record's cpu_ns, which the metrics carry
// per operation).
std::optional<double> worker_cpu_ns(const json& cell) {
    const auto per_op = median_value(cell, "cpu_ns_per_op");
    if (!per_op) return std::nullopt;
    const double ops = cell.at("params").value("ops_per_thread", 0.0) * cell.at("threads").get<double>();
    return *per_op * ops;
}

std::optional<double> outside_clock_ns(const json& cell) {
    const auto setup = median_value(cell, "setup_ns"), teardown = median_value(cell, "teardown_ns");
    if (!setup || !teardown) return std::nullopt;
    return *setup + *teardown;
}

std::optional<double> cpu_off_workers_ns(const json& cell) {
    const auto process = median_value(cell, "process_cpu_ns"), workers = worker_cpu_ns(cell);
    if (!process || !workers) return std::nullopt;
    return std::max(0.0, *process - *workers);
}

json flag(const char* name, std::string text) { return {{"flag", name}, {"text", std::move(text)}}; }

json flags_against(const json& cell, const json& std_cell) {
    json flags = json::array();
    const auto held = median_value(cell, "memory_held_bytes"), std_held = median_value(std_cell, "memory_held_bytes");
    if (held && std_held && *held > memory_factor * std::max(*std_held, mib) && *held - *std_held > memory_floor) {
        flags.push_back(
            flag("holds_more_memory", fmt::format("holds {:.1f} MiB at the end of the measured phase, std {:.1f} MiB",
                                                  *held / mib, *std_held / mib)));
    }
    const auto unexplained = median_value(cell, "rss_unexplained_bytes");
    const auto std_unexplained = median_value(std_cell, "rss_unexplained_bytes");
    if (unexplained && std_unexplained && *unexplained - *std_unexplained > unexplained_floor) {
        flags.push_back(
            flag("memory_outside_operator_new",
                 fmt::format("{:.1f} MiB resident that its operator new calls do not explain, std {:.1f} MiB",
                             *unexplained / mib, *std_unexplained / mib)));
    }
    const auto outside = outside_clock_ns(cell), std_outside = outside_clock_ns(std_cell);
    const auto std_phase = median_value(std_cell, "phase_ms");
    if (outside && std_outside && std_phase) {
        const double extra = *outside - *std_outside;
        if (extra > outside_floor_ns && extra > outside_share * *std_phase * 1e6) {
            flags.push_back(flag("work_outside_clock",
                                 fmt::format("setup and teardown take {:.1f} ms, std's {:.1f} ms, beside a measured "
                                             "phase of {:.1f} ms for std",
                                             *outside / 1e6, *std_outside / 1e6, *std_phase)));
        }
    }
    const auto off = cpu_off_workers_ns(cell), std_off = cpu_off_workers_ns(std_cell);
    const auto workers = worker_cpu_ns(cell);
    if (off && std_off && workers) {
        const double extra = *off - *std_off;
        if (extra > helper_floor_ns && extra > helper_share * *workers) {
            flags.push_back(flag("cpu_off_the_workers",
                                 fmt::format("the process used {:.1f} ms of CPU in the measured phase beyond its "
                                             "workers' {:.1f} ms (another thread worked), std {:.1f} ms beyond",
                                             *off / 1e6, *workers / 1e6, *std_off / 1e6)));
        }
    }
    return flags;
}

}  // namespace

void flag_cells(json& cells) {
    using group_key = std::tuple<std::string, std::string, unsigned>;  // workload, allocator, threads
    std::map<group_key, const json*> std_cells;
    auto key_of = [](const json& cell) {
        return group_key{cell.at("workload").get<std::string>(), cell.at("allocator").get<std::string>(),
                         cell.at("threads").get<unsigned>()};
    };
    for (const auto& cell : cells) {
        if (cell.at("strategy") == baseline_strategy && cell.at("status") == "ok") std_cells[key_of(cell)] = &cell;
    }
    // Flags are computed into a copy first: std_cells points into `cells`.
    std::vector<json> flags(cells.size(), json::array());
    for (std::size_t i = 0; i < cells.size(); ++i) {
        const json& cell = cells[i];
        if (!kind_of(cell).runs_a_strategy() || cell.at("strategy") == baseline_strategy || cell.at("status") != "ok") {
            continue;
        }
        auto found = std_cells.find(key_of(cell));
        if (found != std_cells.end()) flags[i] = flags_against(cell, *found->second);
    }
    for (std::size_t i = 0; i < cells.size(); ++i) {
        if (kind_of(cells[i]).runs_a_strategy()) cells[i]["flags"] = std::move(flags[i]);
    }
}

std::map<std::string, strategy_fault> strategy_faults(const json& cells) {
    std::map<std::string, std::map<std::string, unsigned>> counts;
    for (const auto& cell : cells) {
        const auto status = cell.at("status").get<std::string>();
        if (!kind_of(cell).runs_a_strategy() || status == "ok" || status == "pending" || status == "not_applicable") {
            continue;
        }
        ++counts[cell.at("strategy").get<std::string>()][status];
    }
    std::map<std::string, strategy_fault> faults;
    for (const auto& [strategy, by_status] : counts) {
        strategy_fault& fault = faults[strategy];
        for (const auto& [status, n] : by_status) {
            fault.text +=
                fmt::format("{}{} in {} cell{}", fault.text.empty() ? "" : ", ", status, n, n == 1 ? "" : "s");
            fault.untrusted = fault.untrusted || status != "failed";
        }
    }
    return faults;
}

}  // namespace allocproof::driver
