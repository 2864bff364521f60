// Strategy plugins, as the driver sees them (`run --plugin`, `list --plugin`).
//
// The driver never runs plugin code: it asks a cell program to load the plugins and describe
// them, in a child process, and adds what they hold to its registry without cell functions. The
// matrix, `list` and the results then treat a plugin's strategies like built-in ones, and every
// cell program the run starts loads the plugins itself (run.cpp passes --plugin on).
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace allocproof::driver {

// A plugin's strategy names become cell ids (workload/strategy/allocator/tN), file names and CSV
// fields: 1-64 characters of A-Z, a-z, 0-9, '_', '.', ':', '-' (README, "Writing a plugin").
bool valid_strategy_name(std::string_view name);

// Checks and registers the plugins at `paths` (made absolute), in order. Throws usage_error with
// one line naming the plugin: a directory, not a shared library, no entry point, another build's
// tag, a clash of names, a strategy name outside valid_strategy_name, a crash, an exit or output on
// standard output while loading (what it printed, its exit code), or loading that takes longer
// than `load_limit` (a hang).
// Returns what each holds (path, name, abi_tag, strategies), for the results file.
nlohmann::json register_plugins(std::vector<std::string>& paths,
                                std::chrono::milliseconds load_limit = std::chrono::seconds(60));

}  // namespace allocproof::driver
