// `allocproof count-micro --out DIR`: the micro suite (allocproof-micro-<allocator>) counted under
// valgrind's callgrind, each 1-thread pair's instructions per operation and allocation's part of
// them, written as a results file of counted cells (results/SCHEMA.md §6d) that `compare` reads as
// it reads `run --instructions`'s: the same on every run of a build, so a gate can hold them to a
// threshold. A pair is counted at two fixed iteration counts and the difference taken, which
// cancels the program's start, Google Benchmark's own work and the pattern's setup. The two-thread
// pairs are left out: how two threads interleave under valgrind's scheduler is not the program's.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace allocproof::driver {

struct micro_count_options {
    std::string out;  // the folder results.json goes to
    std::string allocators = "glibc";
    std::string filter = ".*";      // an ECMAScript regex a pair's name (pattern/strategy/argument) must contain
    bool cache_simulation = false;  // --cache-sim, as for run --instructions
    double timeout_seconds = 600;   // per callgrind run
};

CLI::App* add_micro_count_command(CLI::App& app, micro_count_options& options);
int micro_count_command(const micro_count_options& options, const std::vector<std::string>& command_line);

}  // namespace allocproof::driver
