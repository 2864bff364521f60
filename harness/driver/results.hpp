// From child outcomes to results: one record per repetition, and statistics per cell.
// results/SCHEMA.md documents them; results_file.hpp reads and writes the files they go to.
#pragma once

#include "harness/driver/child_process.hpp"
#include "harness/driver/matrix.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace allocproof::driver {

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
    double noise_threshold = 0.05;               // coefficient of variation of ns_per_op above which a cell is noisy
    std::string scale = "default";               // the run's scale, shown in the params of external cells
    std::string real_program_sizes = "default";  // and --real-program-sizes, which may replace it
    bool cache_simulation = false;               // --cache-sim: counted cells' params name the simulated caches
};

// Each metric of `names` over the repetition records `ok`: median, min, max, cv and n (null
// where none has a value).
nlohmann::json summarize_metrics(const std::vector<std::string>& names, const std::vector<const nlohmann::json*>& ok);

// `records[i]` holds the repetition records of plan.cells[i] run so far.
nlohmann::json aggregate_cells(const plan& p, const std::vector<std::vector<nlohmann::json>>& records,
                               const aggregation_settings& settings);

// The cell a digest group's digests are checked against, and the cells of its kind take their
// ratios to: std for a model workload (the library's own allocator, which no plugin replaces), the
// glibc cell for a real program (as its distribution built it, with no code of this project in
// its process).
bool is_reference_cell(const planned_cell& c);

}  // namespace allocproof::driver
