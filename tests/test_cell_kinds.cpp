// The cell-kind layer reached directly (harness/driver/cell_kind.hpp): what a model cell and a real
// program each say of their reference cell, ratios, noise, metrics and groups; the aggregation
// asking them (aggregate_cells on a hand-made plan); and the one key of the plan's order, which a
// whole run's results follow and an aggregated cell gives as its planned cell does.
#include "harness/driver/cell_kind.hpp"
#include "harness/driver/external.hpp"
#include "harness/driver/metric_catalogue.hpp"
#include "harness/driver/results.hpp"
#include "tests/driver_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

using json = nlohmann::json;
using namespace allocproof::driver;

namespace {

std::shared_ptr<const external_spec> program_spec(const std::string& name) {
    auto spec = std::make_shared<external_spec>();
    spec->name = name;
    spec->origin = "--external";
    spec->command = {"/bin/true"};
    spec->scales = {{"test", {{"rows", "10"}}}};
    return spec;
}

planned_cell model_cell(const std::string& strategy, const std::string& allocator, unsigned threads) {
    return {"node_churn", strategy, allocator, threads, {{100, 10, 1}, 42, threads}, nullptr, false};
}

planned_cell program_cell(const std::shared_ptr<const external_spec>& spec, const std::string& allocator) {
    return {spec->name, external_strategy, allocator, 1, {{0, 0, 0}, 42, 1}, spec, false};
}

json ok_record(const json& metrics, const json& digest) {
    return {{"rep", 0},
            {"order", 0},
            {"status", "ok"},
            {"reason", nullptr},
            {"digest", digest},
            {"metrics", metrics},
            {"allocator_identity", {{"name", "x"}}}};
}

TEST(CellKinds, EachCellHasItsKindAndTheKindsAreInPlanOrder) {
    const auto spec = program_spec("prog");
    EXPECT_EQ(&kind_of(model_cell("std", "glibc", 1)), &model_kind());
    EXPECT_EQ(&kind_of(program_cell(spec, "glibc")), &program_kind());
    EXPECT_EQ(&kind_of(json{{"id", "a/std/glibc/t1"}}), &model_kind());
    EXPECT_EQ(&kind_of(json{{"id", "p/as_installed/glibc/t1"}, {"external", json::object()}}), &program_kind());
    // A counted cell is a model cell measured under callgrind: its flag when planned, its params'
    // `measure` in a results file.
    planned_cell counted = model_cell("std", "glibc", 1);
    counted.counted = true;
    EXPECT_EQ(&kind_of(counted), &counted_kind());
    EXPECT_EQ(&kind_of(json{{"id", "a/std/glibc/t1"}, {"params", {{"measure", "callgrind"}}}}), &counted_kind());
    EXPECT_EQ(&kind_of(json{{"id", "a/std/glibc/t1"}, {"params", {{"seed", 42}}}}), &model_kind());
    ASSERT_EQ(cell_kinds().size(), 3u);
    EXPECT_EQ(cell_kinds()[0], &model_kind());
    EXPECT_EQ(cell_kinds()[1], &counted_kind());
    // Model workloads, counted or timed, before real programs.
    EXPECT_EQ(cell_kinds()[0]->plan_rank(), cell_kinds()[1]->plan_rank());
    EXPECT_LT(cell_kinds()[1]->plan_rank(), cell_kinds()[2]->plan_rank());
}

TEST(CellKinds, ACountedCellIsAModelCellJudgedByItsCounts) {
    const cell_kind& kind = counted_kind();
    planned_cell cell = model_cell("arena", "jemalloc", 1);
    cell.counted = true;
    EXPECT_EQ(kind.reference_key(cell), model_kind().reference_key(cell));
    EXPECT_EQ(kind.group(cell), model_kind().group(cell));
    EXPECT_EQ(kind.ratio_key(), "ratio_to_std");
    EXPECT_EQ(kind.noise_metric(), "instructions_per_op");
    EXPECT_EQ(kind.catalogue_key(), "counted");
    EXPECT_TRUE(kind.deterministic());
    EXPECT_FALSE(model_kind().deterministic());
    EXPECT_FALSE(kind.calibrated());
    EXPECT_FALSE(kind.instruction_counted());
    EXPECT_TRUE(kind.runs_a_strategy());
    EXPECT_TRUE(kind.has_metric("allocation_instructions_per_op"));
    EXPECT_FALSE(kind.has_metric("ns_per_op"));
    json described;
    kind.describe(cell, {}, described);
    EXPECT_EQ(described.at("params").at("measure"), "callgrind");
    EXPECT_EQ(&kind_of(described), &counted_kind());
}

TEST(CellKinds, AModelCellTakesItsRatiosToStdOnItsAllocator) {
    const cell_kind& kind = model_kind();
    EXPECT_TRUE(kind.is_reference(model_cell("std", "jemalloc", 2)));
    EXPECT_TRUE(is_reference_cell(model_cell("std", "jemalloc", 2)));
    EXPECT_FALSE(is_reference_cell(model_cell("arena", "glibc", 1)));
    EXPECT_EQ(kind.reference_key(model_cell("arena", "jemalloc", 2)), "node_churn|jemalloc|2");
    EXPECT_EQ(kind.reference_key(model_cell("arena", "jemalloc", 2)),
              kind.reference_key(model_cell("std", "jemalloc", 2)));
    EXPECT_EQ(kind.ratio_key(), "ratio_to_std");
    EXPECT_EQ(kind.noise_metric(), "ns_per_op");
    EXPECT_EQ(kind.reference_name(), "std");
    EXPECT_EQ(kind.catalogue_key(), "model");
    EXPECT_EQ(kind.group(model_cell("arena", "jemalloc", 2)), "node_churn|2");
    EXPECT_EQ(model_cell("arena", "jemalloc", 2).group(), "node_churn|2");
    EXPECT_TRUE(kind.calibrated());
    EXPECT_TRUE(kind.instruction_counted());
}

TEST(CellKinds, ARealProgramTakesItsRatiosToItsGlibcCell) {
    const auto spec = program_spec("prog");
    const cell_kind& kind = program_kind();
    EXPECT_TRUE(is_reference_cell(program_cell(spec, "glibc")));
    EXPECT_FALSE(is_reference_cell(program_cell(spec, "jemalloc")));
    EXPECT_EQ(kind.reference_key(program_cell(spec, "jemalloc")), "prog|glibc|1");
    EXPECT_EQ(kind.reference_key(program_cell(spec, "glibc")), "prog|glibc|1");
    EXPECT_EQ(kind.ratio_key(), "ratio_to_glibc");
    EXPECT_EQ(kind.noise_metric(), "wall_seconds");
    EXPECT_EQ(kind.reference_name(), "the program's glibc cell");
    EXPECT_EQ(kind.catalogue_key(), "external");
    EXPECT_EQ(program_cell(spec, "jemalloc").group(), "prog");
    EXPECT_EQ(kind.record_group(json{{"workload", "prog"}, {"threads", 4}}), "prog");
    EXPECT_FALSE(kind.calibrated());
    EXPECT_FALSE(kind.instruction_counted());
}

TEST(CellKinds, MetricNamesAreTheCataloguesAndAProgramsOwn) {
    const json own = ok_record({{"wall_seconds", 1.0}, {"throughput_fill", 5.0}}, nullptr);
    const std::vector<const json*> ok = {&own};
    EXPECT_EQ(model_kind().metric_names_of(ok), metric_names("model"));
    std::vector<std::string> expected = metric_names("external");
    expected.push_back("throughput_fill");
    EXPECT_EQ(program_kind().metric_names_of(ok), expected);
    EXPECT_TRUE(model_kind().has_metric("ns_per_op"));
    EXPECT_FALSE(model_kind().has_metric("wall_seconds"));
    EXPECT_TRUE(program_kind().has_metric("wall_seconds"));
    EXPECT_TRUE(program_kind().has_metric("throughput_fill"));
    EXPECT_FALSE(program_kind().has_metric("throughput_"));
    EXPECT_NE(program_kind().metric_help().find("throughput_<label>"), std::string::npos);
}

// A model group (std and arena on glibc) and a program (glibc and jemalloc), aggregated.
TEST(CellKinds, TheAggregationAsksTheKinds) {
    const auto spec = program_spec("prog");
    plan p;
    p.reps = 1;
    p.cells = {model_cell("std", "glibc", 1), model_cell("arena", "glibc", 1), program_cell(spec, "glibc"),
               program_cell(spec, "jemalloc")};
    const std::vector<std::vector<json>> records = {
        {ok_record({{"ns_per_op", 10.0}}, "d")},
        {ok_record({{"ns_per_op", 20.0}}, "d")},
        {ok_record({{"wall_seconds", 2.0}, {"throughput_fill", 5.0}}, nullptr)},
        {ok_record({{"wall_seconds", 3.0}, {"throughput_fill", 4.0}}, nullptr)}};
    aggregation_settings settings;
    settings.scale = "test";
    const json cells = aggregate_cells(p, records, settings);
    ASSERT_EQ(cells.size(), 4u);
    for (std::size_t i = 0; i < cells.size(); ++i) {
        EXPECT_EQ(cells[i].at("status"), "ok") << cells[i].dump();
        EXPECT_EQ(&kind_of(cells[i]), &kind_of(p.cells[i])) << i;
        EXPECT_TRUE(plan_order_key(cells[i]) == plan_order_key(p.cells[i])) << i;
    }
    EXPECT_EQ(cells[1].at("ratio_to_std").at("ns_per_op").at("estimate"), 2.0);
    EXPECT_FALSE(cells[1].contains("ratio_to_glibc"));
    EXPECT_EQ(cells[1].at("params").at("ops_per_thread"), 100);
    EXPECT_FALSE(cells[1].contains("external"));
    EXPECT_EQ(model_kind().record_group(cells[1]), "node_churn|1|" + cells[1].at("params").dump());
    EXPECT_TRUE(cells[3].at("ratio_to_std").is_null());
    EXPECT_EQ(cells[3].at("ratio_to_glibc").at("wall_seconds").at("estimate"), 1.5);
    EXPECT_EQ(cells[3].at("params").at("scale"), "test");
    EXPECT_EQ(cells[3].at("params").at("variables"), json({{"rows", "10"}}));
    EXPECT_EQ(cells[3].at("external").at("program"), "/bin/true");
    EXPECT_TRUE(cells[3].at("metrics").contains("throughput_fill"));
    EXPECT_TRUE(cells[2].at("ratio_to_glibc").is_null());  // the reference has no ratio to itself
}

TEST(CellKinds, ThePlanOrderKeyPutsModelsFirstStdFirstAllocatorsInOrderThreadsAscending) {
    const auto spec = program_spec("alpha");
    std::vector<planned_cell> cells = {program_cell(spec, "jemalloc"), model_cell("arena", "glibc", 1),
                                       program_cell(spec, "glibc"),    model_cell("std", "jemalloc", 1),
                                       model_cell("std", "glibc", 2),  model_cell("std", "glibc", 1)};
    std::ranges::stable_sort(cells, {}, [](const planned_cell& c) { return plan_order_key(c); });
    std::vector<std::string> ids;
    for (const auto& c : cells) ids.push_back(c.id());
    EXPECT_EQ(ids, (std::vector<std::string>{"node_churn/std/glibc/t1", "node_churn/std/glibc/t2",
                                             "node_churn/std/jemalloc/t1", "node_churn/arena/glibc/t1",
                                             "alpha/as_installed/glibc/t1", "alpha/as_installed/jemalloc/t1"}));
}

// A whole run's cells are in the key's order, even for a --threads list and programs given out of
// order: the plan is sorted by the key that merge sorts by.
TEST(CellKinds, AWholeRunFollowsThePlanOrderKey) {
    allocproof::testing::Scratch s;
    auto r =
        allocproof::testing::driver({"run", "--external", "zeta=/bin/echo zeta", "--external", "alpha=/bin/echo alpha",
                                     "-w", "node_churn,zeta,alpha", "-s", "std,fixed_pool,as_installed", "-a", "glibc",
                                     "--threads", "2,1", "--scale", "test", "--reps", "1", "--out", s.out()});
    ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 3) << r.err << r.out;
    const json results = s.results();
    const json& cells = results.at("cells");
    std::vector<std::string> ids;
    for (const auto& cell : cells) ids.push_back(cell.at("id"));
    EXPECT_EQ(ids, (std::vector<std::string>{"node_churn/std/glibc/t1", "node_churn/std/glibc/t2",
                                             "node_churn/fixed_pool/glibc/t1", "node_churn/fixed_pool/glibc/t2",
                                             "alpha/as_installed/glibc/t1", "zeta/as_installed/glibc/t1"}));
    std::vector<plan_position> keys;
    for (const auto& cell : cells) keys.push_back(plan_order_key(cell));
    EXPECT_TRUE(std::ranges::is_sorted(keys));
}

}  // namespace
