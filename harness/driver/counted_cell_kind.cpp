// A counted cell: a model cell measured under valgrind's callgrind (`allocproof run --instructions`).
// What it measures is what the program executes, not how long that took: instructions per
// operation, and the part of them allocation's code executed, the same on every run of the same
// build on any machine however loaded, so two runs can be told apart by a threshold alone (a
// gate in CI). Its other metrics are the cell program's own counts (allocator calls, bytes),
// deterministic too; time and memory under callgrind say nothing and are left out.
#include "harness/driver/callgrind_run.hpp"
#include "harness/driver/cpu_affinity.hpp"
#include "harness/driver/model_cell_kind.hpp"
#include "harness/driver/results.hpp"
#include "harness/driver/run.hpp"

namespace allocproof::driver {

using json = nlohmann::json;

namespace {

class counted_cell_kind final : public model_cell_kind {
public:
    std::string_view catalogue_key() const override { return "counted"; }
    std::string_view label() const override { return "counted cells"; }
    std::string_view noise_metric() const override { return "instructions_per_op"; }
    void describe(const planned_cell& c, const aggregation_settings& settings, json& cell) const override {
        model_cell_kind::describe(c, settings, cell);
        cell["params"]["measure"] = "callgrind";
        if (settings.cache_simulation) cell["params"]["caches"] = simulated_caches();
    }

    // The cell program once under callgrind, its record checked as a timed one's is.
    std::optional<json> run_repetition(const planned_cell& cell, const run_slot& slot,
                                       const repetition_context& context) const override {
        static const std::string valgrind = valgrind_program();  // run_matrix checked it is there
        // On any of the run's CPUs: a count does not depend on where it runs, or beside what.
        const callgrind_count count = count_under_callgrind(
            valgrind, cell_argv(cell, context.request, context.options), context.limit, context.stop, context.order,
            {.cpus = context.cpus.allowed,
             .tool_options = context.request.cache_simulation ? cache_simulation_options() : std::vector<std::string>{},
             .environment = {}});
        if (count.outcome.interrupted) return std::nullopt;
        json record = repetition_record(cell, slot, context.order, count.outcome,
                                        context.identities.value(cell.allocator, json(nullptr)));
        if (record["status"] != "ok") return record;
        if (!count.error.empty()) {
            record["status"] = "failed";
            record["reason"] = count.error;
            record["metrics"] = nullptr;
            return record;
        }
        record["metrics"] =
            counted_metrics(record["metrics"], count.split, static_cast<double>(cell.params.scale.ops_per_thread));
        record["instructions"] = instructions_block(count.split);
        return record;
    }
    // A count does not depend on how long the phase lasts: the scale's operations, as they are.
    bool calibrated() const override { return false; }
    // Counted already, by the run itself.
    bool instruction_counted() const override { return false; }
    bool deterministic() const override { return true; }
};

}  // namespace

const cell_kind& counted_kind() {
    static const counted_cell_kind kind;
    return kind;
}

}  // namespace allocproof::driver
