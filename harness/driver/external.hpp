// Real programs (RocksDB's db_bench, redis-server, sqlite3, or a user's own command) measured
// under each global allocator, by preloading the allocator's shared library into the program.
//
// Each one is a descriptor, workloads/external/<name>.json, read at run time (CMake does not
// glob it as a C++ workload), or a command given with `allocproof run --external NAME=COMMAND`.
// Its cells have one strategy, `as_installed`, and the program's own thread setting; a cell
// repetition runs the program once (a server: starts it, drives it with its client, stops it)
// and records the program's rusage (wall, CPU, peak RSS, page faults), its own throughput
// figure, the checks its descriptor asks for, and evidence of which allocator served malloc.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace allocproof::driver {

// The strategy name of every external cell: the program as its package built it.
inline constexpr const char* external_strategy = "as_installed";

// One check of a program's output: every match of `regex` (group 1, a number) must equal or
// reach a value from the scale; `matches`, when set, is how many matches there must be.
struct external_check {
    std::string source;  // "stdout" (the measured program's), or "after" (the server's after-command)
    std::string regex;
    std::string equals, at_least;  // templates, e.g. "{num}"; one of them is set
    std::string matches;           // a template of the number of matches there must be; empty: any (at least one)
};

struct external_server {
    std::vector<std::string> command;        // started with the allocator preloaded
    std::vector<std::string> ready_command;  // run until its stdout holds `ready_expect`
    std::string ready_expect;
    std::vector<std::string> after_command;  // run once the client is done; output checked, reported
    std::vector<std::string> stop_command;   // asks the server to exit; then SIGTERM, then SIGKILL
};

struct external_spec {
    std::string name;
    std::string summary;
    std::string origin;        // the descriptor file, or "--external"
    std::string package;       // the Debian package that provides the program, if known
    unsigned threads = 1;      // the program's own (foreground) thread setting: the cell's tN
    std::string threads_note;  // what that setting is, in the program's terms (recorded)
    std::map<std::string, std::map<std::string, std::string>> scales;  // scale -> variable -> value
    // A program that is not a server: the variables its idle run replaces (the same command and
    // preload on almost no data), whose peak resident set is its idle footprint. Empty: no idle run.
    std::map<std::string, std::string> idle;
    std::vector<std::string> command;  // the measured program (the client, for a server)
    std::optional<external_server> server;
    std::string input_generator;   // "" or "sql_mix": a script generated from the seed on stdin
    std::string throughput_regex;  // on stdout: ([label] and) value per match
    std::string throughput_count;  // or: a count template divided by the wall time
    std::string throughput_unit;
    std::vector<external_check> checks;
    std::map<std::string, std::string> report;  // name -> regex on the after-command's output
    bool digest_stdout = false;                 // the program's output is a result that must match across allocators
    std::vector<std::string> probe;             // harmless arguments (e.g. --version) to ask the dynamic linker
                                                // where malloc binds; empty: evidence from /proc/PID/maps only
    std::string program() const { return (server ? server->command : command).front(); }
    // Every program a repetition runs (the server's helpers too), in order, without repeats.
    std::vector<std::string> programs() const;
};

// The scale whose variables `spec` runs with in a run at `scale` (default, quick or test) with
// --real-program-sizes `sizes`: "default" keeps the run's scale; "full" takes the descriptor's
// full scale, or its default scale when it has none (scale_note says so).
std::string external_scale(const external_spec& spec, const std::string& scale, const std::string& sizes);
// Why a cell ran at another scale than the one asked for, or empty.
std::string scale_note(const external_spec& spec, const std::string& sizes);

// The programs of `spec` that are not installed; empty when it can run.
std::vector<std::string> missing_programs(const external_spec& spec);

// The descriptors in the source tree's workloads/external/ plus the files and commands given on
// the command line. A malformed descriptor or command is a usage_error naming the file.
std::vector<std::shared_ptr<const external_spec>> load_external_specs(const std::vector<std::string>& descriptor_files,
                                                                      const std::vector<std::string>& commands);

// `allocproof list`: one entry per external workload, with whether its program is installed.
nlohmann::json external_list_json(const std::vector<std::shared_ptr<const external_spec>>& specs);

struct external_run_settings {
    std::string scale;
    std::string real_program_sizes = "default";  // or "full": see external_scale
    std::uint64_t seed = 42;
    std::chrono::milliseconds limit{300000};
};

// Runs repetition `rep` (the run's `order`-th) of `spec` under the global allocator `allocator`
// and returns its record (the same keys as a model cell's, see results/SCHEMA.md), or nothing
// when `stop` was set while it ran.
std::optional<nlohmann::json> run_external_repetition(const external_spec& spec, const std::string& allocator,
                                                      unsigned rep, std::size_t order,
                                                      const external_run_settings& settings,
                                                      const std::atomic<bool>& stop);

// The `external` block of a cell in results.json: program, package, threads, throughput unit.
nlohmann::json external_cell_info(const external_spec& spec);

}  // namespace allocproof::driver
