// A model cell: a workload x strategy that the cell program of its allocator runs, one process per
// repetition; its ratios are to std on the same allocator, and its groups are calibrated. A counted
// cell (counted_cell_kind.cpp) is a model cell measured under callgrind, and derives from it.
#pragma once

#include "harness/driver/cell_kind.hpp"

namespace allocproof::driver {

class model_cell_kind : public cell_kind {
public:
    std::string_view catalogue_key() const override { return "model"; }
    std::string_view label() const override { return "model cells"; }
    int plan_rank() const override { return 0; }
    std::string_view noise_metric() const override { return "ns_per_op"; }
    std::string_view ratio_key() const override { return "ratio_to_std"; }
    std::string_view reference_name() const override;
    bool is_reference(const planned_cell& c) const override;
    std::string reference_key(const planned_cell& c) const override;
    void describe(const planned_cell& c, const aggregation_settings& settings, nlohmann::json& cell) const override;

    std::optional<nlohmann::json> run_repetition(const planned_cell& cell, const run_slot& slot,
                                                 const repetition_context& context) const override;
    bool calibrated() const override { return true; }
    bool instruction_counted() const override { return true; }
    bool runs_a_strategy() const override { return true; }

    std::string group(const planned_cell& c) const override;
    std::string record_group(const nlohmann::json& cell) const override;
};

}  // namespace allocproof::driver
