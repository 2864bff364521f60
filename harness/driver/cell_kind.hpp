// The kinds of cell, and what differs between them, in one place: a model cell (a workload x
// strategy that a cell program allocproof-cell-<allocator> runs), a counted cell (the same, run
// under callgrind: planned_cell::counted) and a real program (an external program,
// planned_cell::external; external.hpp). The aggregation, the run loop, the instruction
// pass, merge and compare ask a cell's kind rather than telling the kinds apart themselves.
// The kinds' data stays where it lives (the metric catalogue, external_spec, the allocator
// catalogue); a kind says which of it applies and runs its own repetitions.
#pragma once

#include "harness/driver/matrix.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <compare>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace allocproof::driver {

struct aggregation_settings;  // results.hpp
struct cpu_plan;              // cpu_affinity.hpp
struct run_options;           // run.hpp

// What one repetition of any kind needs from the run that schedules it.
struct repetition_context {
    const matrix_request& request;
    const run_options& options;
    const cpu_plan& cpus;
    const nlohmann::json& identities;  // each cell program's allocator, as it said without plugins
    std::chrono::milliseconds limit;   // --timeout
    std::size_t order;                 // the repetition's place in the run
    const std::atomic<bool>& stop;
};

class cell_kind {
public:
    virtual ~cell_kind() = default;

    // The catalogue's `of` (results/metrics.json): which metrics its cells have.
    virtual std::string_view catalogue_key() const = 0;
    // Its cells as compare names them: "model cells", "external cells".
    virtual std::string_view label() const = 0;
    // Where its cells stand in a plan: model workloads before real programs.
    virtual int plan_rank() const = 0;

    // ---- the aggregation -------------------------------------------------------------------------
    // The metric whose spread makes one of its cells noisy.
    virtual std::string_view noise_metric() const = 0;
    // Where an aggregated cell holds its ratios to its reference cell.
    virtual std::string_view ratio_key() const = 0;
    // Who computes its digest groups' reference digest, in a reason's words.
    virtual std::string_view reference_name() const = 0;
    // The cell a digest group's digests are checked against and the cells of this kind take their
    // ratios to (results.hpp, is_reference_cell).
    virtual bool is_reference(const planned_cell& c) const = 0;
    // The reference cell a cell's ratios are taken to, as workload|allocator|threads.
    virtual std::string reference_key(const planned_cell& c) const = 0;
    // The metrics a cell's ok repetitions have: the catalogue's, and its own figures besides.
    virtual std::vector<std::string> metric_names_of(const std::vector<const nlohmann::json*>& ok) const;
    // The kind's own fields of an aggregated cell: its params, and a program's `external` block.
    virtual void describe(const planned_cell& c, const aggregation_settings& settings, nlohmann::json& cell) const = 0;
    // Whether compare knows `metric` for cells of this kind.
    virtual bool has_metric(std::string_view metric) const;
    // The metrics compare's message lists for this kind.
    virtual std::string metric_help() const;

    // ---- the run -----------------------------------------------------------------------------------
    // One repetition's record (results/SCHEMA.md); none when the run was stopped during it.
    virtual std::optional<nlohmann::json> run_repetition(const planned_cell& cell, const run_slot& slot,
                                                         const repetition_context& context) const = 0;
    // Whether its groups' operation counts are calibrated to the measured-phase floor.
    virtual bool calibrated() const = 0;
    // Whether `allocproof instructions` counts its cells.
    virtual bool instruction_counted() const = 0;
    // Whether its cells run a strategy, which the strategy checks judge (conformance, flags, a
    // strategy's faults) and the console's strategy table shows.
    virtual bool runs_a_strategy() const = 0;
    // Whether its metrics are the same on every run of the same build (counted cells): compare
    // then judges a change by its size alone, with no test of repetitions that cannot differ.
    virtual bool deterministic() const { return false; }

    // ---- groups ------------------------------------------------------------------------------------
    // planned_cell::group: the cells that must do the same operations; a shard keeps them whole.
    virtual std::string group(const planned_cell& c) const = 0;
    // The digest group of an aggregated cell of results.json (SCHEMA.md §5), for merge.
    virtual std::string record_group(const nlohmann::json& cell) const = 0;
};

// The kinds (model_cell_kind.cpp, counted_cell_kind.cpp, program_cell_kind.cpp).
const cell_kind& model_kind();
const cell_kind& counted_kind();
const cell_kind& program_kind();
// The kind of a planned cell, and of an aggregated cell of a results file: the one place that
// tells them apart.
const cell_kind& kind_of(const planned_cell& c);
const cell_kind& kind_of(const nlohmann::json& cell);
// Every kind, in plan order.
const std::vector<const cell_kind*>& cell_kinds();

// The order of a plan's cells, one key for make_plan (which sorts its cells by it) and merge (which
// sorts the cells of its inputs by it): model workloads before real programs, workload, the
// baseline strategy first, strategy, allocators in the catalogue's order, threads.
struct plan_position {
    int kind = 0;
    std::string workload;
    bool after_baseline = false;
    std::string strategy;
    std::size_t allocator_rank = 0;
    std::string allocator;
    unsigned threads = 0;
    auto operator<=>(const plan_position&) const = default;
};
plan_position plan_order_key(const planned_cell& c);
plan_position plan_order_key(const nlohmann::json& cell);

}  // namespace allocproof::driver
