// The catalogue of metrics (results/metrics.json, compiled in): each metric's name, which cells
// have it, its unit and which direction is better. The driver's results, `compare`, the claims
// evaluator and the plots all take names and directions from it, so none of them can disagree
// on whether a metric is better higher or lower.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace allocproof::driver {

struct metric_info {
    std::string name;  // a trailing '*' stands for every metric with that prefix
    std::string of;    // "model" or "external"
    std::string unit;
    bool higher_is_better = false;
    bool ratio_to_baseline = false;
};

const std::vector<metric_info>& metric_catalogue();

// The metrics of one kind of cell, in the catalogue's order (prefix entries left out).
const std::vector<std::string>& metric_names(std::string_view of);
// Those whose ratio to the baseline cell results.json carries.
const std::vector<std::string>& ratio_metric_names(std::string_view of);
// From the catalogue, prefixes included; a name it does not list is better lower.
bool higher_is_better(std::string_view metric);

}  // namespace allocproof::driver
