// `allocproof run --instructions` (the counted cells, harness/driver/counted_cell_kind.cpp) and the
// gate made of it: two runs of one build count the same instructions, and `compare` flags a
// strategy that executes 10% more of them, and nothing else. Counts are deterministic, so these
// tests assert figures; none times anything.
#include "tests/driver_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

namespace fs = std::filesystem;
using json = nlohmann::json;
using allocproof::testing::driver;
using allocproof::testing::expect_one_error_line;

namespace {

bool sanitized() { return std::string(ALLOCPROOF_SANITIZE).size() > 0; }

}  // namespace

class CountedGate : public ::testing::Test {
protected:
    // Three counted runs of the same cells: two with the known-cost plugin as built, one with its
    // copy that spends 1100 nops where it spent 1000.
    static void SetUpTestSuite() {
        // A sanitizer's runtime reserves terabytes of shadow memory, which valgrind cannot host.
        if (sanitized()) return;
        folder_ = fs::temp_directory_path() / ("allocproof-counted-" + std::to_string(::getpid()));
        fs::remove_all(folder_);
        for (const auto& [name, plugin] :
             {std::pair{"first", ALLOCPROOF_KNOWN_COST_PLUGIN}, std::pair{"again", ALLOCPROOF_KNOWN_COST_PLUGIN},
              std::pair{"regressed", ALLOCPROOF_KNOWN_COST_REGRESSED_PLUGIN}}) {
            const auto r =
                driver({"run", "--instructions", "-w", "node_churn,string_pool", "-s", "std,fixed_pool,thousand_nops",
                        "-a", "glibc", "--plugin", plugin, "--ops", "4000", "--out", (folder_ / name).string()},
                       600);
            ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
        }
    }
    static void TearDownTestSuite() {
        if (!folder_.empty()) fs::remove_all(folder_);
    }
    void SetUp() override {
        if (sanitized()) GTEST_SKIP() << "valgrind cannot run a sanitizer build";
    }

    static json results(const std::string& name) { return json::parse(std::ifstream(folder_ / name / "results.json")); }
    static std::string run(const std::string& name) { return (folder_ / name).string(); }

    static std::map<std::string, json> cells_by_id(const json& document) {
        std::map<std::string, json> cells;
        for (const auto& cell : document.at("cells")) cells[cell.at("id")] = cell;
        return cells;
    }

    inline static fs::path folder_;
};

TEST_F(CountedGate, TwoRunsOfOneBuildCountTheSameInstructions) {
    const auto first = cells_by_id(results("first")), again = cells_by_id(results("again"));
    ASSERT_EQ(first.size(), again.size());
    // node_churn: std, fixed_pool, thousand_nops; string_pool's two variants: std, fixed_pool.
    EXPECT_EQ(first.size(), 7u);
    for (const auto& [id, cell] : first) {
        SCOPED_TRACE(id);
        EXPECT_EQ(cell.at("status"), "ok") << cell.value("reason", json(nullptr));
        EXPECT_EQ(cell.at("threads"), 1);
        EXPECT_EQ(cell.at("params").at("measure"), "callgrind");
        EXPECT_EQ(cell.at("params").at("ops_per_thread"), 4000);
        ASSERT_EQ(cell.at("repetitions").size(), 1u);
        const json& metrics = cell.at("repetitions").at(0).at("metrics");
        // Only what a count can say: no time, no resident memory.
        EXPECT_FALSE(metrics.contains("ns_per_op"));
        EXPECT_FALSE(metrics.contains("rss_peak_bytes"));
        const json& other = again.at(id).at("repetitions").at(0).at("metrics");
        for (const char* name : {"instructions_per_op", "allocation_instructions_per_op", "alloc_calls"}) {
            ASSERT_TRUE(metrics.at(name).is_number()) << name;
            EXPECT_EQ(metrics.at(name), other.at(name)) << name;
        }
        EXPECT_EQ(cell.at("digest"), again.at(id).at("digest"));
    }
    // Counted cells run as many at once as the run has CPUs (their counts do not depend on it, as
    // the two runs show); each repetition still has its own place in the run.
    std::set<std::size_t> orders;
    for (const auto& [id, cell] : first) orders.insert(cell.at("repetitions").at(0).at("order").get<std::size_t>());
    EXPECT_EQ(orders.size(), first.size());
    EXPECT_EQ(*orders.begin(), 1u);
    EXPECT_EQ(*orders.rbegin(), first.size());
    // The known cost is there: 1000 nops in the one allocate or deallocate of each operation.
    const double known = first.at("node_churn/thousand_nops/glibc/t1")
                             .at("repetitions")
                             .at(0)
                             .at("metrics")
                             .at("allocation_instructions_per_op");
    EXPECT_GE(known, 1000.0);
    EXPECT_LE(known, 1030.0);
    // Ratios to std are of counts too.
    const json& ratio = first.at("node_churn/fixed_pool/glibc/t1").at("ratio_to_std");
    EXPECT_TRUE(ratio.at("instructions_per_op").at("estimate").is_number());
}

TEST_F(CountedGate, AnUnchangedBuildPasses) {
    const auto r =
        driver({"compare", run("first"), run("again"), "--metric", "instructions_per_op,allocation_instructions_per_op",
                "--threshold", "0.02", "--json", (folder_ / "unchanged.json").string()});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    const json comparison = json::parse(std::ifstream(folder_ / "unchanged.json"));
    EXPECT_EQ(comparison.at("counts").at("unchanged"), 14);  // 7 cells x 2 metrics, none untestable
    EXPECT_EQ(comparison.at("counts").at("untestable"), 0);
}

TEST_F(CountedGate, APlantedTenPercentRegressionIsFlaggedAndNothingElse) {
    const auto r = driver({"compare", run("first"), run("regressed"), "--metric",
                           "instructions_per_op,allocation_instructions_per_op", "--threshold", "0.02", "--json",
                           (folder_ / "regressed.json").string()});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("node_churn/thousand_nops/glibc/t1"), std::string::npos) << r.out;
    const json comparison = json::parse(std::ifstream(folder_ / "regressed.json"));
    int regressions = 0;
    for (const auto& c : comparison.at("comparisons")) {
        SCOPED_TRACE(c.dump());
        EXPECT_TRUE(c.at("exact").get<bool>());
        if (c.at("id") != "node_churn/thousand_nops/glibc/t1") {
            EXPECT_EQ(c.at("verdict"), "unchanged");
            continue;
        }
        EXPECT_EQ(c.at("verdict"), "regression");
        ++regressions;
        // 100 more nops in each of the one call per operation: allocation's part grew by 10%, less
        // the pointer bump's few instructions that did not.
        if (c.at("metric") == "allocation_instructions_per_op") {
            EXPECT_GT(c.at("change").get<double>(), 0.09);
            EXPECT_LE(c.at("change").get<double>(), 0.10);
        }
    }
    EXPECT_EQ(regressions, 2);
}

TEST(CountedCells, ThreadsBeyondOneAreRefused) {
    expect_one_error_line(driver({"run", "--instructions", "-w", "node_churn", "--threads", "1,2"}), "1-thread");
}
