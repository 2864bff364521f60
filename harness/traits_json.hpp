// A strategy's traits as JSON and back: `allocproof list --json` prints them, and a cell program
// describes a plugin's strategies to the driver with them.
#pragma once

#include "allocproof/strategy.hpp"

#include <nlohmann/json.hpp>

#include <deque>
#include <string>
#include <vector>

namespace allocproof {

// "blocks", "vector", "object_pool", "buffers": the families the strategy provides.
std::vector<std::string> strategy_families(const strategy_traits& traits);

nlohmann::json traits_to_json(const strategy_traits& traits);

// The strings of the result point into `storage`, which must outlive it. Throws
// nlohmann::json::exception on a malformed object.
strategy_traits traits_from_json(const nlohmann::json& j, std::deque<std::string>& storage);

}  // namespace allocproof
