// End-to-end tests of what the driver does against a noisy machine (issue 12): 1-thread cells
// pinned to a CPU of their own, the operation count calibrated per group to a measured-phase
// floor, and the default thread counts. No test asserts a duration: the machine is noisy, so they
// check the plan and the records' structure.
#include "tests/driver_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sched.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using json = nlohmann::json;
using allocproof::testing::driver;
using allocproof::testing::Scratch;
using allocproof::testing::with;

namespace {

// The CPUs this test may use: the driver it starts inherits them.
std::vector<int> our_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    }
    return cpus;
}

// Two strategies, one allocator, the test scale: a run of a second or two.
const std::vector<std::string> small = {
    "run",  "--workloads", "node_churn", "--strategies", "std,fixed_pool", "--allocators", "glibc", "--scale",
    "test", "--reps",      "2"};

json run_ok(const Scratch& s, const std::vector<std::string>& args) {
    auto r = driver(with(args, {"--out", s.out()}));
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    return s.results();
}

std::vector<int> cpus_of(const json& rep) { return rep.at("cpus").get<std::vector<int>>(); }

}  // namespace

// ---- pinning ------------------------------------------------------------------------------------

TEST(Pinning, OneThreadCellsGetTheLastCpuAndOthersGetAll) {
    Scratch s;
    const json results = run_ok(s, with(small, {"--threads", "1,2"}));
    const auto cpus = our_cpus();
    ASSERT_FALSE(cpus.empty());
    const json& pinning = results.at("plan").at("pinning");
    EXPECT_TRUE(pinning.at("enabled").get<bool>());
    EXPECT_EQ(pinning.at("allowed_cpus").get<std::vector<int>>(), cpus);
    const bool can_pin = cpus.size() >= 2;
    if (can_pin) {
        EXPECT_EQ(pinning.at("cell_cpu"), cpus.back());
        EXPECT_EQ(pinning.at("driver_cpus").get<std::vector<int>>(), std::vector<int>(cpus.begin(), cpus.end() - 1));
        EXPECT_TRUE(pinning.at("note").is_null());
    } else {
        EXPECT_TRUE(pinning.at("cell_cpu").is_null());
        EXPECT_FALSE(pinning.at("note").get<std::string>().empty()) << "an unpinned run says why";
    }
    for (const auto& cell : results.at("cells")) {
        SCOPED_TRACE(cell.at("id").get<std::string>());
        ASSERT_EQ(cell.at("status"), "ok");
        for (const auto& rep : cell.at("repetitions")) {
            if (cell.at("threads") == 1 && can_pin) {
                EXPECT_EQ(cpus_of(rep), std::vector<int>{cpus.back()});
                EXPECT_TRUE(rep.at("pin_note").is_null());
            } else {
                EXPECT_EQ(cpus_of(rep), cpus);
                EXPECT_EQ(rep.at("pin_note").is_null(), cell.at("threads") != 1);
            }
        }
    }
}

TEST(Pinning, NoPinLeavesEveryCellOnEveryCpu) {
    Scratch s;
    const json results = run_ok(s, with(small, {"--threads", "1", "--no-pin"}));
    const auto cpus = our_cpus();
    const json& pinning = results.at("plan").at("pinning");
    EXPECT_FALSE(pinning.at("enabled").get<bool>());
    EXPECT_TRUE(pinning.at("cell_cpu").is_null());
    for (const auto& cell : results.at("cells")) {
        for (const auto& rep : cell.at("repetitions")) {
            EXPECT_EQ(cpus_of(rep), cpus);
            EXPECT_TRUE(rep.at("pin_note").is_null());
        }
    }
}

// ---- the measured-phase floor --------------------------------------------------------------------

namespace {

// Checks a run's calibration: one group per workload and thread count, at least the scale's
// operations and at most 100 times them, and every cell of a group planned with its count.
// Returns group -> calibrated ops.
std::map<std::string, std::uint64_t> check_calibration(const json& results, std::size_t groups) {
    const json& calibration = results.at("plan").at("calibration");
    EXPECT_EQ(calibration.at("groups").size(), groups);
    std::map<std::string, std::uint64_t> ops;
    for (const auto& g : calibration.at("groups")) {
        const std::string key = g.at("workload").get<std::string>() + "|" + std::to_string(g.at("threads").get<int>());
        SCOPED_TRACE(key);
        const auto scale_ops = g.at("scale_ops_per_thread").get<std::uint64_t>();
        const auto calibrated = g.at("ops_per_thread").get<std::uint64_t>();
        EXPECT_GE(calibrated, scale_ops);
        EXPECT_LE(calibrated, 100 * scale_ops);
        // The baseline is std on the run's first allocator.
        EXPECT_EQ(g.at("baseline"),
                  g.at("workload").get<std::string>() + "/std/glibc/t" + std::to_string(g.at("threads").get<int>()));
        // The calibration runs start at the scale's count, and each runs more operations.
        const json& runs = g.at("runs");
        if (runs.empty()) {
            ADD_FAILURE() << "no calibration run recorded";
            continue;
        }
        EXPECT_LE(runs.size(), 3u);
        EXPECT_EQ(runs.front().at("ops_per_thread").get<std::uint64_t>(), scale_ops);
        for (std::size_t i = 0; i < runs.size(); ++i) {
            EXPECT_TRUE(runs[i].at("phase_ms").is_number());
            if (i > 0) {
                EXPECT_GT(runs[i].at("ops_per_thread"), runs[i - 1].at("ops_per_thread"));
            }
        }
        EXPECT_GE(calibrated, runs.back().at("ops_per_thread").get<std::uint64_t>());
        ops[key] = calibrated;
    }
    for (const auto& cell : results.at("cells")) {
        SCOPED_TRACE(cell.at("id").get<std::string>());
        const std::string key =
            cell.at("workload").get<std::string>() + "|" + std::to_string(cell.at("threads").get<int>());
        EXPECT_EQ(cell.at("params").at("ops_per_thread").get<std::uint64_t>(), ops.at(key))
            << "every strategy of a group does the group's calibrated operations";
        for (const auto& rep : cell.at("repetitions")) {
            EXPECT_EQ(rep.at("raw").at("ops_per_thread").get<std::uint64_t>(), ops.at(key));
            EXPECT_TRUE(rep.at("metrics").at("phase_ms").is_number());
        }
    }
    return ops;
}

}  // namespace

TEST(PhaseFloor, CalibratedOpsArePlannedPerGroup) {
    Scratch s;
    const json results =
        run_ok(s, with(small, {"--workloads", "node_churn,graph", "--threads", "1,2", "--min-phase-ms", "20"}));
    EXPECT_EQ(results.at("plan").at("calibration").at("min_phase_ms"), 20);
    EXPECT_EQ(results.at("plan").at("request").at("min_phase_ms"), 20);
    check_calibration(results, 4);
    for (const auto& cell : results.at("cells")) EXPECT_EQ(cell.at("status"), "ok") << cell.at("id");
}

TEST(PhaseFloor, TheTestScaleIsNotCalibratedByDefault) {
    Scratch s;
    const json results = run_ok(s, with(small, {"--threads", "1"}));
    EXPECT_TRUE(results.at("plan").at("calibration").is_null());
}

TEST(PhaseFloor, ExplicitOpsTurnCalibrationOff) {
    Scratch s;
    const json results = run_ok(s, with(small, {"--threads", "1", "--ops", "12345", "--min-phase-ms", "20"}));
    EXPECT_TRUE(results.at("plan").at("calibration").is_null());
    for (const auto& cell : results.at("cells")) EXPECT_EQ(cell.at("params").at("ops_per_thread"), 12345);
}

TEST(PhaseFloor, ResumeDoesTheStoredCalibratedOps) {
    Scratch s;
    json results = run_ok(s, with(small, {"--threads", "1", "--min-phase-ms", "5"}));
    // Make it an interrupted run whose stored calibration no new calibration would give: the
    // resumed cells must do exactly the stored count.
    json& group = results["plan"]["calibration"]["groups"][0];
    const std::uint64_t stored = group.at("ops_per_thread").get<std::uint64_t>() + 7;
    group["ops_per_thread"] = stored;
    results["status"] = "interrupted";
    for (auto& cell : results["cells"]) cell["repetitions"] = json::array();
    std::ofstream(s.out() + "/results.json") << results.dump();

    auto resumed = driver({"run", "--resume", "--out", s.out()});
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    const json complete = s.results();
    EXPECT_EQ(complete.at("status"), "complete");
    const auto ops = check_calibration(complete, 1);
    EXPECT_EQ(ops.at("node_churn|1"), stored);
}

// ---- default thread counts ---------------------------------------------------------------------

TEST(DefaultThreads, OneTwoAndEveryCpuWithoutOversubscription) {
    const auto cpus = static_cast<unsigned>(our_cpus().size());
    std::vector<unsigned> expected = {1, 2};
    if (cpus > 2) expected.push_back(cpus);
    {
        // The default scale, cut short by --ops and --reps: only the plan matters here.
        Scratch s;
        const json results = run_ok(s, {"run", "--workloads", "node_churn", "--strategies", "std", "--allocators",
                                        "glibc", "--reps", "1", "--ops", "20000"});
        EXPECT_EQ(results.at("plan").at("request").at("threads").get<std::vector<unsigned>>(), expected);
        std::vector<unsigned> planned;
        for (const auto& cell : results.at("cells")) planned.push_back(cell.at("threads").get<unsigned>());
        EXPECT_EQ(planned, expected);
    }
    {
        Scratch s;
        const json results = run_ok(s, with(small, {"--reps", "1"}));
        EXPECT_EQ(results.at("plan").at("request").at("threads").get<std::vector<unsigned>>(),
                  (std::vector<unsigned>{1, 2}));
    }
}

TEST(PhaseFloor, ShardsCalibrateTheirOwnGroupsAndMergeShowsThemAll) {
    Scratch one;  // one folder per test: the parts and the merge go side by side in it
    const auto args =
        with(small, {"--workloads", "node_churn,graph", "--threads", "1", "--reps", "1", "--min-phase-ms", "5"});
    const json first = run_ok(one, with(args, {"--shard", "1/2"}));
    fs::rename(one.out(), one.path() / "part1");
    const json second = run_ok(one, with(args, {"--shard", "2/2"}));
    EXPECT_EQ(first.at("plan").at("calibration").at("groups").size(), 1u);
    EXPECT_EQ(second.at("plan").at("calibration").at("groups").size(), 1u);

    const fs::path out = one.path() / "merged";
    auto merged = driver({"merge", (one.path() / "part1").string(), one.out(), "--out", out.string()});
    ASSERT_EQ(merged.exit_code, 0) << merged.err;
    std::ifstream in(out / "results.json");
    check_calibration(json::parse(in), 2);
}
