// Strategies that cheat (tests/plugins/faulty/: misaligned.cpp, races.cpp, outside_the_clock.cpp),
// run through the driver beside std on embeddings:simd_aligned, the cell of the alignment claim.
// Two break their contract and must be `invalid`, with the check that caught them: a strategy that
// declares 64-byte alignment and gives 8 (every cell checks every block), and one that declares
// itself thread-safe but races (the stress check before measuring). Three move their work where
// the measured phase's clock does not look, and stay `ok`, but the figures around the clock show
// them: setup and teardown, resident memory operator new does not explain, and the process's CPU
// beyond the workers'. The margins are gross (factors of several, tens of MiB) so that a loaded
// machine cannot blur them.
#include "tests/driver_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace fs = std::filesystem;
using json = nlohmann::json;
using allocproof::testing::driver;
using allocproof::testing::mib;
using allocproof::testing::with;

namespace {

class CheatingStrategies : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        folder_ = fs::temp_directory_path() / ("allocproof-cheats-" + std::to_string(::getpid()));
        fs::remove_all(folder_);
        // Strategies that fail a check are left as they are, not torn down: no leak report.
        ::setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
        outcome_ = driver({"run",
                           "--plugin",
                           ALLOCPROOF_FAULTY_PLUGIN,
                           "--strategies",
                           "std,misaligned,races,stocks_in_constructor,maps_its_own,helper_thread",
                           "--workloads",
                           "embeddings:simd_aligned",
                           "--allocators",
                           "glibc",
                           "--threads",
                           "1",
                           "--reps",
                           "3",
                           "--ops",
                           "20000",
                           "--working-set",
                           "64",
                           "--warmup-ops",
                           "0",
                           "--timeout",
                           "120",
                           "--out",
                           (folder_ / "run").string()});
        std::ifstream in(folder_ / "run" / "results.json");
        results_ = json::parse(in, nullptr, false);
        if (results_.is_discarded()) return;
        for (const auto& cell : results_.value("cells", json::array())) cells_[cell.at("strategy")] = cell;
    }
    static void TearDownTestSuite() { fs::remove_all(folder_); }

    static const json& cell(const std::string& strategy) {
        auto found = cells_.find(strategy);
        if (found == cells_.end())
            throw std::runtime_error("no cell for " + strategy + "\n" + outcome_.out + outcome_.err);
        return found->second;
    }
    static std::string reason(const std::string& strategy) {
        const json& r = cell(strategy).at("reason");
        return r.is_null() ? std::string() : r.get<std::string>();
    }
    // The median of a metric; fails the test where the metric is missing or null.
    static double median(const std::string& strategy, const std::string& metric) {
        const json& m = cell(strategy).at("metrics").value(metric, json(nullptr));
        if (!m.is_object()) {
            ADD_FAILURE() << strategy << " has no " << metric;
            return 0;
        }
        return m.at("median").get<double>();
    }
    // CPU the process used in the measured phase beyond its workers' own.
    static double cpu_off_the_workers(const std::string& strategy) {
        const double ops = cell(strategy).at("params").at("ops_per_thread").get<double>();
        return median(strategy, "process_cpu_ns") - median(strategy, "cpu_ns_per_op") * ops;
    }

    static inline fs::path folder_;
    static inline allocproof::driver::child_outcome outcome_;
    static inline json results_;
    static inline std::map<std::string, json> cells_;
};

TEST_F(CheatingStrategies, TheBaselineIsCheckedAndMeasured) {
    ASSERT_FALSE(results_.is_discarded()) << outcome_.err;
    EXPECT_EQ(cell("std").at("status"), "ok") << cell("std");
    EXPECT_EQ(cell("std").at("reps_ok"), 3);
}

TEST_F(CheatingStrategies, BlocksLessAlignedThanDeclaredMakeTheCellInvalid) {
    EXPECT_EQ(cell("misaligned").at("status"), "invalid") << cell("misaligned");
    EXPECT_NE(reason("misaligned").find("alignment"), std::string::npos) << reason("misaligned");
    EXPECT_NE(reason("misaligned").find("aligned to 8 bytes"), std::string::npos) << reason("misaligned");
    EXPECT_EQ(cell("misaligned").at("ratio_to_std"), nullptr) << "no figures for a cell that broke its contract";
}

TEST_F(CheatingStrategies, AThreadSafeStrategyThatRacesFailsTheStressCheckAndIsNotMeasured) {
    const json& c = cell("races");
    EXPECT_EQ(c.at("status"), "invalid") << c;
    EXPECT_NE(reason("races").find("stress check"), std::string::npos) << reason("races");
    EXPECT_EQ(c.at("reps_ok"), 0);
    for (const auto& rep : c.at("repetitions")) EXPECT_TRUE(rep.at("raw").is_null()) << "measured: " << rep;
    EXPECT_NE(outcome_.out.find("strategy 'races' failed its conformance check"), std::string::npos) << outcome_.out;
}

TEST_F(CheatingStrategies, WorkMovedIntoTheConstructorAndDestructorShowsInSetupAndTeardown) {
    EXPECT_EQ(cell("stocks_in_constructor").at("status"), "ok") << "moving work out of the clock is not wrong";
    EXPECT_GT(median("stocks_in_constructor", "setup_ns"), 5 * median("std", "setup_ns"));
    EXPECT_GT(median("stocks_in_constructor", "teardown_ns"), 5 * median("std", "teardown_ns"));
    EXPECT_GT(median("stocks_in_constructor", "teardown_ns"), 0);
}

TEST_F(CheatingStrategies, MemoryMappedOutsideOperatorNewIsUnexplained) {
    if (std::string(ALLOCPROOF_SANITIZE).size() > 0) GTEST_SKIP() << "the sanitizer's shadow memory is resident too";
    EXPECT_EQ(cell("maps_its_own").at("status"), "ok");
    EXPECT_GE(median("maps_its_own", "rss_unexplained_bytes"), 48 * mib);  // four 16 MiB chunks, touched
    EXPECT_LT(median("std", "rss_unexplained_bytes"), 16 * mib);
}

TEST_F(CheatingStrategies, AHelperThreadShowsInTheProcessCpuBeyondTheWorkers) {
    EXPECT_EQ(cell("helper_thread").at("status"), "ok");
    const double ops = cell("helper_thread").at("params").at("ops_per_thread").get<double>();
    const double workers = median("helper_thread", "cpu_ns_per_op") * ops;
    EXPECT_GT(cpu_off_the_workers("helper_thread"), 0.25 * workers);
    const double std_workers = median("std", "cpu_ns_per_op") * ops;
    EXPECT_LT(cpu_off_the_workers("std"), 0.1 * std_workers);
}

// What the clock did not see is said wherever the cell is shown, not only in its metrics: the
// cell's flags in results.json (which the report reads) and under the cell in the console table;
// and a strategy that broke its contract is named with its faults at the end of the table.
TEST_F(CheatingStrategies, WorkOutsideTheClockIsFlaggedInTheResultsAndTheConsole) {
    // A sanitizer slows the measured phase several times over and keeps shadow memory resident: the
    // flags' bounds, set for the figures of a real build, do not apply.
    if (std::string(ALLOCPROOF_SANITIZE).size() > 0)
        GTEST_SKIP() << "a sanitizer build's figures are not a real build's";
    auto flagged = [](const std::string& strategy, const std::string& flag) {
        const json flags = cell(strategy).value("flags", json::array());
        return std::ranges::any_of(flags, [&](const json& f) { return f.at("flag") == flag; });
    };
    EXPECT_TRUE(flagged("stocks_in_constructor", "work_outside_clock")) << cell("stocks_in_constructor");
    EXPECT_TRUE(flagged("maps_its_own", "memory_outside_operator_new")) << cell("maps_its_own");
    EXPECT_TRUE(flagged("helper_thread", "cpu_off_the_workers")) << cell("helper_thread");
    EXPECT_EQ(cell("std").at("flags"), json::array());
    for (const char* line :
         {"    flag work_outside_clock: setup and teardown take",
          "    flag memory_outside_operator_new: ", "    flag cpu_off_the_workers: the process used",
          "strategy misaligned: invalid in 1 cell (wrong or unbelievable results: not ranked, no verdict)",
          "strategy races: invalid in 1 cell"}) {
        EXPECT_NE(outcome_.out.find(line), std::string::npos) << line << "\n" << outcome_.out;
    }
}

// The check every cell makes, here without the driver's check before it: a cell program asked for
// the misaligned strategy's cell ends at its first block, with the conformance exit code.
TEST(CheatingStrategyCell, EndsAtTheFirstMisalignedBlock) {
    const fs::path cell_program = fs::path(ALLOCPROOF_DRIVER).parent_path() / "allocproof-cell-glibc";
    std::atomic<bool> never{false};
    const auto r = allocproof::driver::run_child(
        {cell_program.string(), "--plugin", ALLOCPROOF_FAULTY_PLUGIN, "--workload", "embeddings:simd_aligned",
         "--strategy", "misaligned", "--ops", "200", "--working-set", "16"},
        std::chrono::seconds(60), never);
    EXPECT_EQ(r.exit_code, 72) << r.err;
    EXPECT_NE(r.err.find("conformance check failed: alignment: strategy 'misaligned' returned a block at"),
              std::string::npos)
        << r.err;
    EXPECT_TRUE(r.out.empty()) << "no record: " << r.out;
}

}  // namespace
