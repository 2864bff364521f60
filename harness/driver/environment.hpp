// The machine and build a run was measured on, for the `environment` block of results.json.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace allocproof::driver {

nlohmann::json collect_environment(const std::vector<std::string>& command_line, const nlohmann::json& allocators);

// UTC, ISO 8601, e.g. 2026-11-22T03:04:05Z; `compact` gives 20261122-030405 for folder names.
std::string utc_timestamp(bool compact = false);

}  // namespace allocproof::driver
