// Strategy plugins, as the driver sees them (`run --plugin`, `list --plugin`).
//
// The driver never runs plugin code: the cell program it asks for the build's catalogue
// (matrix_catalogue.hpp) loads the plugins in a child process and describes their strategies and
// cells with the build's own. The matrix, `list` and the results then treat a plugin's strategies
// like built-in ones, and every cell program the run starts loads the plugins itself (run.cpp
// passes --plugin on).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace allocproof::driver {

class matrix_catalogue;

// A plugin's strategy names become cell ids (workload/strategy/allocator/tN), file names and CSV
// fields: 1-64 characters of A-Z, a-z, 0-9, '_', '.', ':', '-' (README, "Writing a plugin").
bool valid_strategy_name(std::string_view name);

// Makes each path absolute; a directory is a usage_error naming it.
void check_plugin_paths(std::vector<std::string>& paths);

// A plugin strategy's name outside valid_strategy_name is a usage_error naming the plugin and the
// name. (What else can go wrong while loading a plugin, describe_build says.)
void check_plugin_strategies(const matrix_catalogue& catalogue);

}  // namespace allocproof::driver
