#include "allocproof/registry.hpp"

#include "allocproof/cell.hpp"

#include <algorithm>

namespace allocproof {

registry& registry::instance() {
    static registry the_registry;
    return the_registry;
}

std::string_view registry::intern(std::string name) { return *names_.insert(std::move(name)).first; }

std::vector<std::string_view> registry::workload_names(const workload_traits& traits) {
    if (traits.variants.empty()) return {traits.name};
    std::vector<std::string_view> names;
    for (std::string_view variant : traits.variants) {
        names.push_back(intern(std::string(traits.name) + ":" + std::string(variant)));
    }
    return names;
}

void registry::add_workload(const workload_traits& traits) {
    for (std::string_view name : workload_names(traits)) {
        if (find_workload(name) != nullptr) {
            conflicts_.emplace_back("workload " + std::string(name));
            continue;
        }
        workload_traits form = traits;
        form.name = name;
        workloads_.push_back(form);
    }
}

cell_measurement cell_entry::measure(const cell_request& request) const {
    cell_request own = request;
    own.params.variant = variant;
    return run(own);
}

void registry::add_strategy(const strategy_traits& traits, strategy_factory make) {
    if (find_strategy(traits.name) != nullptr) {
        conflicts_.emplace_back("strategy " + std::string(traits.name));
        return;
    }
    strategies_.push_back({traits, make});
}

void registry::add_cell(std::string_view workload, std::string_view strategy, cell_function run, unsigned variant) {
    if (find_cell(workload, strategy) == nullptr) {
        cells_.push_back({workload, strategy, run, variant});
    }
}

std::vector<workload_traits> registry::workloads() const {
    auto sorted = workloads_;
    std::ranges::sort(sorted, {}, &workload_traits::name);
    return sorted;
}

std::vector<strategy_traits> registry::strategies() const {
    std::vector<strategy_traits> sorted;
    for (const auto& entry : strategies_) sorted.push_back(entry.traits);
    std::ranges::sort(sorted, [](const strategy_traits& a, const strategy_traits& b) {
        bool a_base = a.name == baseline_strategy, b_base = b.name == baseline_strategy;
        return a_base != b_base ? a_base : a.name < b.name;
    });
    return sorted;
}

const workload_traits* registry::find_workload(std::string_view name) const {
    auto it = std::ranges::find(workloads_, name, &workload_traits::name);
    return it == workloads_.end() ? nullptr : &*it;
}

const strategy_traits* registry::find_strategy(std::string_view name) const {
    auto it = std::ranges::find_if(strategies_, [&](const strategy_entry& e) { return e.traits.name == name; });
    return it == strategies_.end() ? nullptr : &it->traits;
}

std::unique_ptr<erased_strategy> registry::make_strategy(std::string_view name, const block_spec& spec) const {
    auto it = std::ranges::find_if(strategies_, [&](const strategy_entry& e) { return e.traits.name == name; });
    return it == strategies_.end() || it->make == nullptr ? nullptr : it->make(spec);
}

const cell_entry* registry::find_cell(std::string_view workload, std::string_view strategy) const {
    auto it = std::ranges::find_if(
        cells_, [&](const cell_entry& cell) { return cell.workload == workload && cell.strategy == strategy; });
    return it == cells_.end() ? nullptr : &*it;
}

}  // namespace allocproof
