// `allocproof instructions RUN_DIR`: what allocation costs each 1-thread cell of a finished run,
// in instructions counted by valgrind's callgrind (deterministic, so it needs no repetitions and
// no quiet machine). Each chosen cell runs once under callgrind, which counts the instructions
// of its measured operations and the source file each one was compiled from (the cell programs
// carry line tables, -g1, which leave the code as it is). The allocation part is what came from
// the strategy's source, the global allocator's library and the harness's counting operator new,
// inlined or not. results/SCHEMA.md, "Instructions", says why and what it leaves out.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace allocproof::driver {

struct instruction_options {
    std::string run;               // the run folder whose results.json gains the counts
    std::string cells = "claims";  // claims: the cells whose counts the claims file reads; all: every 1-thread cell
    std::string claims_file;       // default: the one the run was made with
    std::uint64_t ops = 20'000;    // measured operations per count (fewer when the cell ran fewer)
    double timeout_seconds = 600;  // per callgrind run
    bool redo = false;             // count cells that already have counts again
};

CLI::App* add_instructions_command(CLI::App& app, instruction_options& options);
int instructions_command(const instruction_options& options);

}  // namespace allocproof::driver
