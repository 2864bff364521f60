// One process under valgrind's callgrind, counting the instructions of a cell's measured phase
// (the cell program switches collection on and off around it: harness/thread_probes.cpp). Used by
// `allocproof instructions`, which adds counts to a finished run, and by the counted cells of
// `allocproof run --instructions` (cell_kind.hpp), whose whole measurement it is.
#pragma once

#include "harness/driver/callgrind_file.hpp"
#include "harness/driver/child_process.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace allocproof::driver {

struct callgrind_count {
    child_outcome outcome;  // the cell program's: its record on stdout
    instruction_split split;
    std::string error;  // why there is no count: past `limit`, a program that failed (in its own
                        // words, without valgrind's), or one built without valgrind's client requests
};

// How a count runs, besides its program.
struct callgrind_setup {
    std::vector<int> cpus;                  // the CPUs it runs on; empty: the caller's
    std::vector<std::string> tool_options;  // callgrind's, besides the output file and collection off at start
    std::vector<std::string> environment;   // NAME=VALUE the program gets
};

// Runs `argv` under `valgrind` (a path) with collection off until the program turns it on (a
// cell program does, around its measured phase; `--toggle-collect=` among the tool options can
// name functions to collect in); `job` tells apart the output files of counts made at once.
callgrind_count count_under_callgrind(const std::string& valgrind, std::vector<std::string> argv,
                                      std::chrono::milliseconds limit, const std::atomic<bool>& stop, std::size_t job,
                                      const callgrind_setup& setup = {});

// The caches callgrind simulates for `run --instructions --cache-sim`, the same on every machine:
// left to itself, callgrind copies the host's, and two machines' counts could not be compared.
// A common 2020s x86 core: 32 KiB 8-way L1s and an 8 MiB 16-way last level, 64-byte lines.
std::vector<std::string> cache_simulation_options();
// The same caches in words, for the cells' params: "I1=32768,8,64 D1=... LL=...".
std::string simulated_caches();

// The counted kind's metrics (the catalogue's `counted` ones) of a count over `ops` operations:
// instructions and cache misses from `split`, the others as the program derived them (`derived`,
// a cell record's metrics; null where it has none).
nlohmann::json counted_metrics(const nlohmann::json& derived, const instruction_split& split, double ops);

// A counted repetition's `instructions` block: the tool, the totals, the simulated caches' events.
nlohmann::json instructions_block(const instruction_split& split);

// valgrind's path, or a usage_error saying how to install it.
std::string valgrind_program();

}  // namespace allocproof::driver
