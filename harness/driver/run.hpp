// `allocproof run`: plan the matrix, run every cell repetition in its own process, keep the
// results file current after each one, and finish with statistics.
#pragma once

#include "harness/driver/matrix.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace allocproof::driver {

struct run_options {
    matrix_request request;
    std::filesystem::path out;
    bool resume = false;                 // finish the run stored in `out`
    double timeout_seconds = 300;        // per cell repetition
    std::uint64_t memory_limit_mib = 0;  // address space of each cell program (RLIMIT_AS); 0: none
    double noise_threshold = 0.05;       // coefficient of variation of ns_per_op
    bool pin = true;                     // 1-thread cells on a CPU of their own (cpu_affinity.hpp)
    std::vector<std::string> command_line;
    nlohmann::json settings = nlohmann::json::array();  // the table of every option's value
};

// The longest --timeout: a week. Past it the limit, in milliseconds, would no longer be a number
// anyone meant.
inline constexpr double max_timeout_seconds = 7 * 24 * 3600;

int run_matrix(const run_options& options);

// Where the driver is, and the build's other programs beside it.
std::filesystem::path driver_directory();

// The global allocators that have a cell program beside the driver, in the canonical order.
std::vector<std::string> available_allocators();
std::filesystem::path cell_program(const std::string& allocator);

// The command line of one repetition of a model cell: its cell program and the cell's settings.
std::vector<std::string> cell_argv(const planned_cell& cell, const matrix_request& request, const run_options& options);

}  // namespace allocproof::driver
