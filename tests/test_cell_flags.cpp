// The flags a cell carries for work its clock does not see (harness/driver/cell_flags.cpp), on
// cells made up to sit just inside and just past each bound of results/SCHEMA.md §13, and the
// faults that follow a strategy.
#include "harness/driver/cell_flags.hpp"
#include "tests/driver_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

using json = nlohmann::json;
using allocproof::driver::flag_cells;
using allocproof::driver::strategy_faults;

namespace {

using allocproof::testing::mib;

// A cell of node_churn at 1 thread with 1000 operations: medians of the metrics flags read.
json cell(const std::string& strategy, json metrics, const std::string& status = "ok") {
    json m = json::object();
    for (const auto& [name, value] : metrics.items()) m[name] = {{"median", value}};
    return {{"id", "node_churn/" + strategy + "/glibc/t1"},
            {"workload", "node_churn"},
            {"strategy", strategy},
            {"allocator", "glibc"},
            {"threads", 1},
            {"status", status},
            {"params", {{"ops_per_thread", 1000}}},
            {"metrics", m}};
}

// std: 10 MiB held, 1 MiB unexplained, 1 ms setup and teardown, a 10 ms phase, 10 ms of workers' CPU
// (10,000 ns per operation) and 0.1 ms more on the process.
json baseline() {
    return cell("std", {{"memory_held_bytes", 10 * mib},
                        {"rss_unexplained_bytes", 1 * mib},
                        {"setup_ns", 0.6e6},
                        {"teardown_ns", 0.4e6},
                        {"phase_ms", 10.0},
                        {"cpu_ns_per_op", 1e4},
                        {"process_cpu_ns", 10.1e6}});
}

std::vector<std::string> flags_of(json candidate) {
    json cells = json::array({baseline(), std::move(candidate)});
    flag_cells(cells);
    EXPECT_TRUE(cells[0]["flags"].empty()) << "std is never flagged against itself";
    std::vector<std::string> names;
    for (const auto& f : cells[1]["flags"]) names.push_back(f["flag"]);
    return names;
}

json like_std(json changes) {
    json c = baseline();
    c["strategy"] = "candidate";
    c["id"] = "node_churn/candidate/glibc/t1";
    for (const auto& [name, value] : changes.items()) c["metrics"][name] = {{"median", value}};
    return c;
}

}  // namespace

TEST(CellFlags, NoneForACellLikeStd) { EXPECT_TRUE(flags_of(like_std(json::object())).empty()); }

TEST(CellFlags, MemoryHeldNeedsTheFactorAndTheDifference) {
    using V = std::vector<std::string>;
    EXPECT_EQ(flags_of(like_std({{"memory_held_bytes", 43 * mib}})), V{"holds_more_memory"});
    EXPECT_TRUE(flags_of(like_std({{"memory_held_bytes", 39 * mib}})).empty());  // < 4x std's
    // 4x std's 1 MiB, but only 24 MiB more.
    json cells = json::array({baseline(), like_std({{"memory_held_bytes", 25 * mib}})});
    cells[0]["metrics"]["memory_held_bytes"]["median"] = 1 * mib;
    flag_cells(cells);
    EXPECT_TRUE(cells[1]["flags"].empty());
}

TEST(CellFlags, ResidentMemoryOperatorNewDoesNotExplain) {
    EXPECT_EQ(flags_of(like_std({{"rss_unexplained_bytes", 34 * mib}})),
              std::vector<std::string>{"memory_outside_operator_new"});
    EXPECT_TRUE(flags_of(like_std({{"rss_unexplained_bytes", 32 * mib}})).empty());
}

TEST(CellFlags, WorkOutsideTheMeasuredPhase) {
    // 6 ms more than std's 1 ms, beside std's 10 ms phase: more than half of it.
    EXPECT_EQ(flags_of(like_std({{"setup_ns", 6e6}, {"teardown_ns", 1e6}})),
              std::vector<std::string>{"work_outside_clock"});
    EXPECT_TRUE(flags_of(like_std({{"setup_ns", 4e6}, {"teardown_ns", 1e6}})).empty());  // 4 ms: less than half
}

TEST(CellFlags, CpuOfAThreadThatIsNotAWorker) {
    // Workers 2 ms (2,000 ns x 1000 operations), the process 12 ms: 10 ms elsewhere.
    EXPECT_EQ(flags_of(like_std({{"cpu_ns_per_op", 2e3}, {"process_cpu_ns", 12e6}})),
              std::vector<std::string>{"cpu_off_the_workers"});
    EXPECT_TRUE(flags_of(like_std({{"cpu_ns_per_op", 2e3}, {"process_cpu_ns", 2.5e6}})).empty());
}

TEST(CellFlags, NotJudgedWithoutAnOkStdOrTheFigures) {
    json cells = json::array({baseline(), like_std({{"memory_held_bytes", 400 * mib}})});
    cells[0]["status"] = "failed";
    flag_cells(cells);
    EXPECT_TRUE(cells[1]["flags"].empty());
    json old = like_std({{"setup_ns", 60e6}});
    old["metrics"].erase("teardown_ns");  // a results file from before the metric
    EXPECT_TRUE(flags_of(old).empty());
}

TEST(CellFlags, AStrategyAnswersForAllItsCells) {
    json cells = json::array({baseline(), like_std(json::object()), cell("racy", {}, "invalid"), cell("racy", {}, "ok"),
                              cell("crashy", {}, "failed"), cell("crashy", {}, "failed"), cell("slow", {}, "pending")});
    const auto faults = strategy_faults(cells);
    ASSERT_EQ(faults.size(), 2u);
    EXPECT_EQ(faults.at("racy").text, "invalid in 1 cell");
    EXPECT_TRUE(faults.at("racy").untrusted);
    EXPECT_EQ(faults.at("crashy").text, "failed in 2 cells");
    EXPECT_FALSE(faults.at("crashy").untrusted);
}
