#include "harness/driver/model_cell_kind.hpp"

#include "allocproof/registry.hpp"  // baseline_strategy
#include "harness/driver/child_process.hpp"
#include "harness/driver/cpu_affinity.hpp"
#include "harness/driver/results.hpp"
#include "harness/driver/run.hpp"

#include <fmt/format.h>

namespace allocproof::driver {

using json = nlohmann::json;

namespace {

// Which CPUs a repetition ran on, and why a 1-thread cell did not get one of its own when
// pinning is on (SCHEMA.md §5).
void note_cpus(json& record, const cpu_plan& cpus, unsigned threads, const child_outcome& outcome) {
    record["cpus"] = outcome.cpus;
    const std::string why = !outcome.cpus_error.empty()    ? outcome.cpus_error
                            : threads == 1 && cpus.enabled ? cpus.note
                                                           : std::string();
    record["pin_note"] = why.empty() ? json(nullptr) : json(why);
}

}  // namespace

std::string_view model_cell_kind::reference_name() const { return baseline_strategy; }

bool model_cell_kind::is_reference(const planned_cell& c) const { return c.strategy == baseline_strategy; }

// std on the same allocator and thread count.
std::string model_cell_kind::reference_key(const planned_cell& c) const {
    return fmt::format("{}|{}|{}", c.workload, c.allocator, c.threads);
}

void model_cell_kind::describe(const planned_cell& c, const aggregation_settings& /*settings*/, json& cell) const {
    cell["params"] = {{"ops_per_thread", c.params.scale.ops_per_thread},
                      {"working_set", c.params.scale.working_set},
                      {"warmup_ops", c.params.scale.warmup_ops},
                      {"seed", c.params.seed}};
}

// The cell program, on the CPUs of its thread count, checked against what the driver saw.
std::optional<json> model_cell_kind::run_repetition(const planned_cell& cell, const run_slot& slot,
                                                    const repetition_context& context) const {
    const child_outcome outcome = run_child(cell_argv(cell, context.request, context.options), context.limit,
                                            context.stop, context.cpus.cpus_for(cell.threads));
    if (outcome.interrupted) return std::nullopt;
    json record =
        repetition_record(cell, slot, context.order, outcome, context.identities.value(cell.allocator, json(nullptr)));
    note_cpus(record, context.cpus, cell.threads, outcome);
    return record;
}

std::string model_cell_kind::group(const planned_cell& c) const { return fmt::format("{}|{}", c.workload, c.threads); }

std::string model_cell_kind::record_group(const json& cell) const {
    return fmt::format("{}|{}|{}", cell.value("workload", ""), cell.value("threads", 0),
                       cell.value("params", json(nullptr)).dump());
}

const cell_kind& model_kind() {
    static const model_cell_kind kind;
    return kind;
}

}  // namespace allocproof::driver
