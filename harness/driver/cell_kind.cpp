#include "harness/driver/cell_kind.hpp"

#include "allocproof/registry.hpp"  // baseline_strategy
#include "harness/driver/allocator_catalogue.hpp"
#include "harness/driver/metric_catalogue.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace allocproof::driver {

using json = nlohmann::json;

std::vector<std::string> cell_kind::metric_names_of(const std::vector<const json*>& /*ok*/) const {
    return metric_names(catalogue_key());
}

bool cell_kind::has_metric(std::string_view metric) const {
    const auto& names = metric_names(catalogue_key());
    return std::ranges::find(names, metric) != names.end();
}

std::string cell_kind::metric_help() const { return fmt::format("{}", fmt::join(metric_names(catalogue_key()), ", ")); }

const cell_kind& kind_of(const planned_cell& c) {
    if (c.external) return program_kind();
    return c.counted ? counted_kind() : model_kind();
}

// Only a real program's cell has the `external` block (results/SCHEMA.md §10), and only a counted
// cell's params say it was measured under callgrind.
const cell_kind& kind_of(const json& cell) {
    if (cell.contains("external")) return program_kind();
    const auto params = cell.find("params");
    const bool counted = params != cell.end() && params->is_object() && params->value("measure", "") == "callgrind";
    return counted ? counted_kind() : model_kind();
}

const std::vector<const cell_kind*>& cell_kinds() {
    static const std::vector<const cell_kind*> kinds{&model_kind(), &counted_kind(), &program_kind()};
    return kinds;
}

namespace {

plan_position position_of(const cell_kind& kind, std::string workload, std::string strategy, std::string allocator,
                          unsigned threads) {
    const std::size_t rank = allocator_rank(allocator);
    const bool after_baseline = strategy != baseline_strategy;
    return {kind.plan_rank(), std::move(workload), after_baseline, std::move(strategy), rank, std::move(allocator),
            threads};
}

}  // namespace

plan_position plan_order_key(const planned_cell& c) {
    return position_of(kind_of(c), c.workload, c.strategy, c.allocator, c.threads);
}

plan_position plan_order_key(const json& cell) {
    return position_of(kind_of(cell), cell.value("workload", ""), cell.value("strategy", ""),
                       cell.value("allocator", ""), cell.value("threads", 0u));
}

}  // namespace allocproof::driver
