// One process under valgrind's callgrind, counting the instructions of a cell's measured phase
// (the cell program switches collection on and off around it: harness/thread_probes.cpp). Used by
// `allocproof instructions`, which adds counts to a finished run, and by the counted cells of
// `allocproof run --instructions` (cell_kind.hpp), whose whole measurement it is.
#pragma once

#include "harness/driver/callgrind_file.hpp"
#include "harness/driver/child_process.hpp"

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

// Runs `argv` under `valgrind` (a path) with collection off until the program turns it on, on
// `cpus` (empty: the caller's); `job` tells apart the output files of counts made at once.
callgrind_count count_under_callgrind(const std::string& valgrind, std::vector<std::string> argv,
                                      std::chrono::milliseconds limit, const std::atomic<bool>& stop, std::size_t job,
                                      const std::vector<int>& cpus = {});

// valgrind's path, or a usage_error saying how to install it.
std::string valgrind_program();

}  // namespace allocproof::driver
