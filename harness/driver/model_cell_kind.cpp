// A model cell: a workload x strategy that the cell program of its allocator runs, one process per
// repetition; its ratios are to std on the same allocator, and its groups are calibrated.
#include "harness/driver/cell_kind.hpp"

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

class model_cell_kind final : public cell_kind {
public:
    std::string_view catalogue_key() const override { return "model"; }
    std::string_view label() const override { return "model cells"; }
    int plan_rank() const override { return 0; }
    std::string_view noise_metric() const override { return "ns_per_op"; }
    std::string_view ratio_key() const override { return "ratio_to_std"; }
    std::string_view reference_name() const override { return baseline_strategy; }
    bool is_reference(const planned_cell& c) const override { return c.strategy == baseline_strategy; }
    // std on the same allocator and thread count.
    std::string reference_key(const planned_cell& c) const override {
        return fmt::format("{}|{}|{}", c.workload, c.allocator, c.threads);
    }
    void describe(const planned_cell& c, const aggregation_settings& /*settings*/, json& cell) const override {
        cell["params"] = {{"ops_per_thread", c.params.scale.ops_per_thread},
                          {"working_set", c.params.scale.working_set},
                          {"warmup_ops", c.params.scale.warmup_ops},
                          {"seed", c.params.seed}};
    }

    // The cell program, on the CPUs of its thread count, checked against what the driver saw.
    std::optional<json> run_repetition(const planned_cell& cell, const run_slot& slot,
                                       const repetition_context& context) const override {
        const child_outcome outcome = run_child(cell_argv(cell, context.request, context.options), context.limit,
                                                context.stop, context.cpus.cpus_for(cell.threads));
        if (outcome.interrupted) return std::nullopt;
        json record = repetition_record(cell, slot, context.order, outcome,
                                        context.identities.value(cell.allocator, json(nullptr)));
        note_cpus(record, context.cpus, cell.threads, outcome);
        return record;
    }
    bool calibrated() const override { return true; }
    bool instruction_counted() const override { return true; }
    bool runs_a_strategy() const override { return true; }

    std::string group(const planned_cell& c) const override { return fmt::format("{}|{}", c.workload, c.threads); }
    std::string record_group(const json& cell) const override {
        return fmt::format("{}|{}|{}", cell.value("workload", ""), cell.value("threads", 0),
                           cell.value("params", json(nullptr)).dump());
    }
};

}  // namespace

const cell_kind& model_kind() {
    static const model_cell_kind kind;
    return kind;
}

}  // namespace allocproof::driver
