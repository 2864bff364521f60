// Planning a run: which cells (workload x strategy x allocator x threads), how many repetitions,
// and in which order they run.
#pragma once

#include "allocproof/workload.hpp"
#include "harness/driver/exit_codes.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace allocproof::driver {

struct external_spec;  // harness/driver/external.hpp

struct matrix_request {
    std::vector<std::string> workloads{"*"};
    std::vector<std::string> strategies{"*"};
    std::vector<std::string> allocators{"*"};
    std::vector<unsigned> threads;  // empty: the scale's own thread counts (default_threads)
    // What a model cell's repetition measures: "time" (the cell program run as it is: time, memory,
    // counters) or "instructions" (1-thread cells under valgrind's callgrind: instructions per
    // operation, the same on every run of the same build; the counted kind, cell_kind.hpp).
    std::string measure = "time";
    // With "instructions": callgrind also simulates caches (the same on every machine:
    // callgrind_run.hpp), for each cell's cache misses per operation.
    bool cache_simulation = false;
    unsigned reps = 5;
    std::string scale = "default";  // which of each workload's scales: default, quick or test
    // The real programs' sizes: "default" (the run's scale) or "full" (their full scale, large
    // enough for a memory claim; see external_scale).
    std::string real_program_sizes = "default";
    std::optional<std::uint64_t> ops;  // overrides the workload's scale when set
    std::optional<std::uint64_t> working_set;
    std::optional<std::uint64_t> warmup_ops;
    // The shortest measured phase, in ms, that the operation count is calibrated to (0: none);
    // unset: the scale's default_min_phase_ms. An explicit `ops` turns calibration off.
    std::optional<double> min_phase_ms;
    std::uint64_t seed = 42;
    std::uint64_t sample_every = 256;
    std::uint64_t dirty_heap_bytes = 0;  // per thread; 0: every cell starts on a fresh heap
    // Real programs besides workloads/external/*.json: descriptor files and NAME=COMMAND lines.
    std::vector<std::string> external_descriptors;
    std::vector<std::string> external_commands;
    // Strategy plugins (shared libraries) every cell program of the run loads; absolute paths.
    std::vector<std::string> plugins;
    // Claims first (claims_plan.hpp): the cells a claims file needs run before the rest of the
    // matrix, with its schedule of repetitions, while rows stay undecided and the budget lasts.
    std::string claims_file;    // absolute path; empty: every cell gets `reps`, in one go
    bool claims_only = false;   // leave out the cells no claim needs
    double budget_seconds = 0;  // the whole run's; 0: no limit
    unsigned claims_reps = 0;   // instead of the claims' schedule, this many each, no rounds; 0: the schedule
    // --shard i/n: this run measures part i (1-based) of n of the matrix; n = 1 is all of it.
    unsigned shard_index = 1;
    unsigned shard_count = 1;
};

// "2/4" -> {2, 4}; anything else (0/4, 5/4, 4, a/b, 1/0, n > max_shards) is a usage_error.
std::pair<unsigned, unsigned> parse_shard(const std::string& text);
// More shards than this would be mostly empty: no matrix has that many groups.
inline constexpr unsigned max_shards = 10000;

// The thread counts a scale runs when --threads is not given, on a driver that may use `cpus`
// CPUs: 1, 2 and all of them at the default scale, 1 and 2 at the small ones. More threads than
// CPUs measure the scheduler as much as the allocator, so only --threads asks for them.
std::vector<unsigned> default_threads(const std::string& scale, unsigned cpus);
// The measured-phase floor of a scale when --min-phase-ms is not given (matrix.cpp says how it
// was chosen).
double default_min_phase_ms(const std::string& scale);
// The next operation count to try for a group whose baseline took `phase_ns` at `ops`
// operations, aiming its measured phase at `target_ms`: rounded up to 2 significant digits, never
// below `ops`, never above `max_ops`.
std::uint64_t calibrated_ops(std::uint64_t ops, double phase_ns, double target_ms, std::uint64_t max_ops);
// A group's calibrated count is at most this many times its scale's.
inline constexpr std::uint64_t max_calibration_factor = 100;
// A workload's scale by name; an unknown name is a usage_error.
workload_scale scale_of(const workload_traits& traits, const std::string& scale);

nlohmann::json to_json(const matrix_request& request);
matrix_request matrix_request_from_json(const nlohmann::json& j);  // throws usage_error

// The most measured operations of a counted cell when --ops is not given (fewer where the scale has
// fewer): enough for the steady state of every workload, few enough that callgrind (tens of times
// slower) counts a cell in about a second.
inline constexpr std::uint64_t counted_ops_default = 20'000;

struct planned_cell {
    std::string workload;
    std::string strategy;
    std::string allocator;
    unsigned threads = 1;
    workload_params params;
    std::shared_ptr<const external_spec> external;  // set for a real program (external.hpp)
    // Not asked for: the group's reference (std for a model workload, glibc for a real program
    // that reports a digest), added so that its digests are checked against a trusted one.
    bool added_as_reference = false;
    // A model cell measured under callgrind (matrix_request::measure "instructions").
    bool counted = false;
    std::string id() const;  // workload/strategy/allocator/tN
    // workload|threads: the cells that must do the same operations (SCHEMA.md §5), and the unit a
    // shard keeps whole and the phase floor calibrates.
    std::string group() const;
};

struct run_slot {
    std::size_t cell;  // index into plan::cells
    unsigned rep;
};

struct plan {
    std::vector<planned_cell> cells;
    unsigned reps = 0;
    // Repetitions run in rounds: every cell once, in a shuffled order, then the next round, so
    // that drift in the machine's speed spreads over all strategies instead of favouring one.
    std::vector<run_slot> schedule;
    // Selected external workloads left out because their program is not installed, one line each.
    std::vector<std::string> skipped;
};

// Appends repetitions from[i] .. to[i] - 1 of every cell i, in rounds: each round runs every cell
// that still needs one, in a shuffled order (the seed's), so drift spreads over all cells.
void append_rounds(plan& p, const std::vector<unsigned>& from, const std::vector<unsigned>& to, std::uint64_t seed);

// "a,b,c" -> {a, b, c}. An empty list or an empty item ("a,,b", "a,") is an error naming `flag`.
std::vector<std::string> split_list(const std::string& text, const std::string& flag);
// "1,2,8" -> {1, 2, 8}; anything but whole numbers is an error naming `flag`. A count given
// twice is kept once: the same cell twice would share one id.
std::vector<unsigned> parse_counts(const std::string& text, const std::string& flag);

// Names matching shell-style patterns (*, ?, [...]) in `known`, in the order of `known`.
// A pattern that matches nothing is an error naming the known ones. A pattern matching the part
// of a name before ':' (a workload's base name) selects the name too.
std::vector<std::string> expand_patterns(const std::vector<std::string>& patterns,
                                         const std::vector<std::string>& known, const std::string& kind);

// `cpus`: how many CPUs the driver may use, for the default thread counts.
plan make_plan(const matrix_request& request, const std::vector<std::string>& allocators, unsigned cpus);

// Sets ops_per_thread of every cell of `group` (planned_cell::group) in `p`.
void set_group_ops(plan& p, const std::string& group, std::uint64_t ops_per_thread);

}  // namespace allocproof::driver
