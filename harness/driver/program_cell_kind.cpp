// A real program (external.hpp): run once per repetition under each global allocator, on every CPU
// of the run; its ratios are to its own cell on the baseline allocator (glibc), it adds its own
// throughput figures to the catalogue's metrics, and it is neither calibrated nor counted.
#include "harness/driver/cell_kind.hpp"

#include "harness/driver/allocator_catalogue.hpp"
#include "harness/driver/cpu_affinity.hpp"
#include "harness/driver/external.hpp"
#include "harness/driver/results.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace allocproof::driver {

using json = nlohmann::json;

namespace {

constexpr std::string_view throughput_prefix = "throughput_";

class program_cell_kind final : public cell_kind {
public:
    std::string_view catalogue_key() const override { return "external"; }
    std::string_view label() const override { return "external cells"; }
    int plan_rank() const override { return 1; }
    std::string_view noise_metric() const override { return "wall_seconds"; }
    std::string_view ratio_key() const override { return "ratio_to_glibc"; }
    std::string_view reference_name() const override { return "the program's glibc cell"; }
    bool is_reference(const planned_cell& c) const override { return c.allocator == baseline_allocator(); }
    // A program has no strategy dimension: its reference is its cell on the baseline allocator.
    std::string reference_key(const planned_cell& c) const override {
        return fmt::format("{}|{}|{}", c.workload, baseline_allocator(), c.threads);
    }
    // The catalogue's, and the program's own figures besides (e.g. throughput_fillrandom).
    std::vector<std::string> metric_names_of(const std::vector<const json*>& ok) const override {
        std::vector<std::string> names = cell_kind::metric_names_of(ok);
        for (const json* r : ok) {
            for (const auto& [name, value] : r->at("metrics").items()) {
                if (std::ranges::find(names, name) == names.end()) names.push_back(name);
            }
        }
        return names;
    }
    // The scale it ran at and its variables, not a model cell's counts; and what the program is.
    void describe(const planned_cell& c, const aggregation_settings& settings, json& cell) const override {
        const external_spec& spec = *c.external;
        const std::string scale = external_scale(spec, settings.scale, settings.real_program_sizes);
        const std::string note = scale_note(spec, settings.real_program_sizes);
        cell["external"] = external_cell_info(spec);
        cell["params"] = {{"scale", scale},
                          {"variables", spec.scales.contains(scale) ? json(spec.scales.at(scale)) : json(nullptr)},
                          {"idle_variables", spec.idle},
                          {"scale_note", note.empty() ? json(nullptr) : json(note)},
                          {"seed", c.params.seed}};
    }
    bool has_metric(std::string_view metric) const override {
        return cell_kind::has_metric(metric) ||
               (metric.starts_with(throughput_prefix) && metric.size() > throughput_prefix.size());
    }
    std::string metric_help() const override { return cell_kind::metric_help() + ", throughput_<label>"; }

    // The program and its servers run with their own threads: every CPU of the run.
    std::optional<json> run_repetition(const planned_cell& cell, const run_slot& slot,
                                       const repetition_context& context) const override {
        scoped_cpus everywhere(context.cpus.allowed);
        const external_run_settings settings{context.request.scale, context.request.real_program_sizes,
                                             context.request.seed, context.limit};
        auto record =
            run_external_repetition(*cell.external, cell.allocator, slot.rep, context.order, settings, context.stop);
        if (record) (*record)["cpus"] = allowed_cpus();
        return record;
    }
    bool calibrated() const override { return false; }
    // A real program runs its own threads.
    bool instruction_counted() const override { return false; }
    bool runs_a_strategy() const override { return false; }

    std::string group(const planned_cell& c) const override { return c.workload; }
    std::string record_group(const json& cell) const override { return cell.value("workload", ""); }
};

}  // namespace

const cell_kind& program_kind() {
    static const program_cell_kind kind;
    return kind;
}

}  // namespace allocproof::driver
