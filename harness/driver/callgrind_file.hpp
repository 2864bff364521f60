// Reading a callgrind output file: its instructions, and the part that allocation's code
// executed, told apart by the source file each instruction was compiled from (line tables: the
// build compiles with -g1), so that code inlined from a strategy into a workload still counts as
// the strategy's. Used by `allocproof instructions` (instruction_pass.hpp).
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace allocproof::driver {

// Whether an instruction compiled from `file`, in the object file `object`, is allocation's: the
// global allocator's library (or glibc's malloc/), a strategies/ folder's code, the harness's
// counting operator new, and std::allocator's glue to it.
bool is_allocation_code(std::string_view object, std::string_view file);

struct instruction_split {
    double total = 0;
    double allocation = 0;
    // Every other event the file counts, summed: the simulated caches' references and misses
    // ("D1mr", "DLmw", ...) when callgrind ran with --cache-sim=yes; empty when it did not.
    std::map<std::string, double> events;
};

// The instructions of a callgrind output file and the part is_allocation_code claims: each cost
// line's own count (a call's inclusive cost is left out: the callee's lines count themselves),
// and the sums of its other events.
// Throws std::runtime_error when the file cannot be read or its lines do not add up to its total.
instruction_split split_callgrind_file(const std::string& path);

}  // namespace allocproof::driver
