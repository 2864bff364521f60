// Strategies' and workloads' traits as JSON and back: `allocproof list --json` prints them, and a
// cell program describes its build (its plugins' strategies too) to the driver with them.
#pragma once

#include "allocproof/strategy.hpp"
#include "allocproof/workload.hpp"

#include <nlohmann/json.hpp>

#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace allocproof {

// The text that traits read back from JSON point into. Moving it keeps them valid (a deque's
// elements stay where they are); copying it would not, hence no copies.
struct traits_text {
    traits_text() = default;
    traits_text(traits_text&&) = default;
    traits_text& operator=(traits_text&&) = default;
    traits_text(const traits_text&) = delete;
    traits_text& operator=(const traits_text&) = delete;

    std::deque<std::string> strings;
    std::deque<std::vector<std::string_view>> lists;  // workloads' variants
};

// "blocks", "vector", "object_pool", "buffers": the families the strategy provides.
std::vector<std::string> strategy_families(const strategy_traits& traits);

nlohmann::json traits_to_json(const strategy_traits& traits);
nlohmann::json traits_to_json(const workload_traits& traits);

// Throw nlohmann::json::exception on a malformed object.
strategy_traits strategy_traits_from_json(const nlohmann::json& j, traits_text& storage);
workload_traits workload_traits_from_json(const nlohmann::json& j, traits_text& storage);

}  // namespace allocproof
