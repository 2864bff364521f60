// From child outcomes to results: one record per repetition, statistics per cell, and the files
// of a run (results.json, summary.csv), written atomically. results/SCHEMA.md documents them.
#pragma once

#include "harness/driver/child_process.hpp"
#include "harness/driver/matrix.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace allocproof::driver {

inline constexpr int results_schema_version = 1;

// One repetition of one cell, from what its child process did. Status "ok", "failed" or
// "implausible" (with a reason); the digest check across cells happens later, in aggregate_cells.
//
// The record is printed by a process that runs plugin code, which can print anything; so it is
// checked against what the driver saw itself: the child's wall time (spawn to exit) must hold the
// reported setup and measured phase, the child's CPU time (wait4) the reported workers' CPU time,
// and the reported allocator must be `confirmed_identity`, what the same cell program said of its
// allocator when the driver ran it with --identify and no plugin (null: not confirmed).
nlohmann::json repetition_record(const planned_cell& cell, const run_slot& slot, std::size_t order,
                                 const child_outcome& outcome, const nlohmann::json& confirmed_identity);

// What a record may exceed the driver's own observation by: the child's clocks and the driver's
// are the same kernel's, but the driver reads its own a little late and rusage counts microseconds.
inline constexpr double observation_slack_seconds = 0.02;
inline constexpr double observation_slack_fraction = 0.02;

struct aggregation_settings {
    double noise_threshold = 0.05;  // coefficient of variation of ns_per_op above which a cell is noisy
    std::string scale = "default";  // the run's scale, shown in the params of external cells
    std::string real_program_sizes = "default";  // and --real-program-sizes, which may replace it
};

// `records[i]` holds the repetition records of plan.cells[i] run so far.
nlohmann::json aggregate_cells(const plan& p, const std::vector<std::vector<nlohmann::json>>& records,
                               const aggregation_settings& settings);


// summary.csv: one line per cell, the figures a spreadsheet wants.
std::string summary_csv(const nlohmann::json& cells);

// Writes to a temporary file in the same folder, flushes it to disk, then renames it over the
// target: a reader sees the old file or the new one, never half of one. Throws on failure.
void atomic_write(const std::filesystem::path& path, const std::string& content);

}  // namespace allocproof::driver
