// How the driver ends: its exit codes (catalogue/exit_codes.json, the one list, generated into
// allocproof/exit_codes.hpp) and the error that carries bad input to exit code 2.
#pragma once

#include "allocproof/exit_codes.hpp"

#include <stdexcept>

namespace allocproof::driver {

inline constexpr int exit_ok = exit_codes::driver::ok;
inline constexpr int exit_regression = exit_codes::driver::regression;
inline constexpr int exit_usage = exit_codes::driver::usage;
inline constexpr int exit_cells_failed = exit_codes::driver::cells_failed;
inline constexpr int exit_io = exit_codes::driver::io;
inline constexpr int exit_interrupted = exit_codes::driver::interrupted;

// Bad input from the user: one line of explanation, exit_usage.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace allocproof::driver
