// Strategy plugins through the driver: strategies that misbehave on purpose
// (tests/plugins/faulty_strategies.cpp) are recorded with their reasons while every other cell is
// kept; plugins that are not plugins, or not for this build, are refused with one line.
#include "tests/driver_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace fs = std::filesystem;
using json = nlohmann::json;
using allocproof::testing::driver;
using allocproof::testing::expect_one_error_line;
using allocproof::testing::Scratch;
using allocproof::testing::with;

namespace {

const std::vector<std::string> one_small_cell = {
    "--workloads", "node_churn",   "--allocators", "glibc",  "--ops", "20000",     "--working-set",
    "500",         "--warmup-ops", "1000",         "--reps", "2",     "--threads", "1"};

std::string reason_of(const json& cell) {
    return cell.at("reason").is_null() ? std::string() : cell.at("reason").get<std::string>();
}

}  // namespace

// One run of every faulty strategy beside the baseline, shared by the tests below.
class FaultyPlugin : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        folder_ = fs::temp_directory_path() / ("allocproof-faulty-" + std::to_string(::getpid()));
        fs::remove_all(folder_);
        // Under AddressSanitizer a SIGSEGV would become its report and an abort.
        ::setenv("ASAN_OPTIONS", "handle_segv=0:detect_leaks=0", 1);
        outcome_ = driver(with({"run", "--plugin", ALLOCPROOF_FAULTY_PLUGIN, "--strategies",
                                "std,crashes,hangs,aborts,throws,babbles,overlaps,scribbles,leaks", "--timeout", "3",
                                "--out", (folder_ / "run").string()},
                               one_small_cell));
        std::ifstream in(folder_ / "run" / "results.json");
        results_ = json::parse(in, nullptr, false);
        for (const auto& cell : results_.value("cells", json::array())) cells_[cell.at("strategy")] = cell;
    }
    static void TearDownTestSuite() { fs::remove_all(folder_); }

    static const json& cell(const std::string& strategy) {
        auto found = cells_.find(strategy);
        if (found == cells_.end()) throw std::runtime_error("no cell for " + strategy + "\n" + outcome_.err);
        return found->second;
    }

    static inline fs::path folder_;
    static inline allocproof::driver::child_outcome outcome_;
    static inline json results_;
    static inline std::map<std::string, json> cells_;
};

TEST_F(FaultyPlugin, TheRunFinishesAndItsExitCodeSaysCellsFailed) {
    EXPECT_EQ(outcome_.exit_code, 3) << outcome_.err;
    ASSERT_FALSE(results_.is_discarded());
    EXPECT_EQ(results_.at("status"), "complete");
    EXPECT_EQ(cells_.size(), 9u);
    EXPECT_EQ(results_.at("plan").at("request").at("plugins"), json::array({ALLOCPROOF_FAULTY_PLUGIN}));
    EXPECT_EQ(results_.at("plugins").at(0).at("name"), "faulty strategies");
}

TEST_F(FaultyPlugin, TheBaselineBesideThemIsKeptWhole) {
    const json& healthy = cell("std");
    EXPECT_EQ(healthy.at("status"), "ok");
    EXPECT_EQ(healthy.at("reps_ok"), 2);
    EXPECT_FALSE(healthy.at("leaked").get<bool>()) << healthy.at("metrics").at("leaked_blocks");
}

TEST_F(FaultyPlugin, ACrashIsRecordedWithItsSignal) {
    EXPECT_EQ(cell("crashes").at("status"), "failed");
    EXPECT_NE(reason_of(cell("crashes")).find("SIGSEGV"), std::string::npos) << cell("crashes");
    EXPECT_EQ(cell("crashes").at("reps_done"), 2);
}

TEST_F(FaultyPlugin, AHangIsKilledAtTheTimeLimit) {
    EXPECT_EQ(cell("hangs").at("status"), "failed");
    EXPECT_NE(reason_of(cell("hangs")).find("timed out"), std::string::npos) << cell("hangs");
}

TEST_F(FaultyPlugin, AnAbortIsRecorded) {
    EXPECT_EQ(cell("aborts").at("status"), "failed");
    EXPECT_NE(reason_of(cell("aborts")).find("SIGABRT"), std::string::npos) << cell("aborts");
}

TEST_F(FaultyPlugin, AnExceptionIsRecordedWithItsMessage) {
    EXPECT_EQ(cell("throws").at("status"), "failed");
    EXPECT_NE(reason_of(cell("throws")).find("the throwing strategy gave up"), std::string::npos) << cell("throws");
}

TEST_F(FaultyPlugin, OutputThatIsNotACellRecordIsRecorded) {
    EXPECT_EQ(cell("babbles").at("status"), "failed");
    EXPECT_NE(reason_of(cell("babbles")).find("malformed output"), std::string::npos) << cell("babbles");
}

TEST_F(FaultyPlugin, OverlappingBlocksMakeTheCellInvalid) {
    const json& c = cell("overlaps");
    EXPECT_EQ(c.at("status"), "invalid");
    EXPECT_NE(c.at("digest"), c.at("reference_digest"));
    EXPECT_EQ(c.at("ratio_to_std"), nullptr) << "no figures for a wrong cell";
}

// A plugin's strategy passes the conformance checks the built-in ones pass before any of its cells
// is measured: one that hands out live blocks is stopped there, with the check that caught it.
TEST_F(FaultyPlugin, AStrategyThatFailsItsConformanceCheckIsNotMeasured) {
    for (const char* strategy : {"overlaps", "scribbles"}) {
        const json& c = cell(strategy);
        EXPECT_NE(reason_of(c).find("conformance check failed: "), std::string::npos) << c;
        EXPECT_EQ(c.at("reps_ok"), 0) << c;
        for (const auto& rep : c.at("repetitions")) EXPECT_TRUE(rep.at("raw").is_null()) << "measured: " << rep;
    }
    EXPECT_NE(reason_of(cell("overlaps")).find("disjoint blocks"), std::string::npos) << cell("overlaps");
}

TEST_F(FaultyPlugin, ACorruptedNeighbourMakesTheCellInvalid) {
    const json& c = cell("scribbles");
    EXPECT_EQ(c.at("status"), "invalid");
    EXPECT_NE(c.at("digest"), c.at("reference_digest"));
}

TEST_F(FaultyPlugin, ALeakIsReportedWithTheMemoryLeftAllocated) {
    const json& c = cell("leaks");
    EXPECT_EQ(c.at("status"), "ok") << "a leak leaves the figures right: reported, not failed";
    EXPECT_TRUE(c.at("leaked").get<bool>());
    // node_churn frees about one node per operation: thousands of blocks, each at least 64 bytes.
    EXPECT_GT(c.at("metrics").at("leaked_blocks").at("median").get<double>(), 1000);
    EXPECT_GT(c.at("metrics").at("leaked_bytes").at("median").get<double>(), 64 * 1000);
}

TEST(Plugins, ACellOutOfMemoryUnderTheLimitIsRecordedAndTheRunGoesOn) {
    if (std::string(ALLOCPROOF_SANITIZE).size() > 0) {
        GTEST_SKIP() << "sanitizers reserve terabytes of address space: RLIMIT_AS cannot apply";
    }
    Scratch s;
    auto r = driver(with({"run", "--plugin", ALLOCPROOF_FAULTY_PLUGIN, "--strategies", "std,hogs", "--memory-limit-mib",
                          "1024", "--out", s.out()},
                         one_small_cell));
    EXPECT_EQ(r.exit_code, 3) << r.err;
    json results = s.results();
    EXPECT_EQ(results.at("plan").at("memory_limit_mib"), 1024);
    for (const auto& c : results.at("cells")) {
        if (c.at("strategy") == "std") {
            EXPECT_EQ(c.at("status"), "ok") << c;
        } else {
            EXPECT_EQ(c.at("status"), "failed");
            EXPECT_NE(reason_of(c).find("out of memory"), std::string::npos) << c;
        }
    }
}

TEST(Plugins, APluginThatIsNotOneOrNotForThisBuildIsRefusedAndNothingIsWritten) {
    Scratch s;
    fs::create_directories(s.path());
    const std::string text_file = (s.path() / "libnot.so").string();
    std::ofstream(text_file) << "not an ELF file\n";
    const std::map<std::string, std::string> expected = {
        {text_file, "not a shared library"},
        {(s.path() / "missing.so").string(), "no such file"},
        {ALLOCPROOF_NO_ENTRY_PLUGIN, "no entry point allocproof_plugin_entry_v1"},
        {ALLOCPROOF_WRONG_ABI_PLUGIN, "built for 'allocproof 0.0.1"},
        {ALLOCPROOF_CRASHING_PLUGIN, "crashed while loading (SIGSEGV)"},
    };
    ::setenv("ASAN_OPTIONS", "handle_segv=0:detect_leaks=0", 1);
    for (const auto& [plugin, message] : expected) {
        SCOPED_TRACE(plugin);
        expect_one_error_line(driver(with({"run", "--plugin", plugin, "--out", s.out()}, one_small_cell)), message);
        expect_one_error_line(driver({"list", "--plugin", plugin}), message);
        EXPECT_FALSE(fs::exists(s.out())) << "refused before anything was written";
    }
    // One that never finishes loading is given up at --timeout.
    expect_one_error_line(
        driver(
            with({"run", "--plugin", ALLOCPROOF_HANGING_PLUGIN, "--timeout", "2", "--out", s.out()}, one_small_cell)),
        "still loading after 2.0 s; it hangs");
    EXPECT_FALSE(fs::exists(s.out()));
    // The same plugin twice: its strategies would be registered twice.
    expect_one_error_line(driver(with({"run", "--plugin", ALLOCPROOF_FAULTY_PLUGIN, "--plugin",
                                       ALLOCPROOF_FAULTY_PLUGIN, "--out", s.out()},
                                      one_small_cell)),
                          "already registered");
}

TEST(Plugins, TheirStrategiesAreListedLikeBuiltInOnes) {
    auto r = driver({"list", "--json", "--plugin", ALLOCPROOF_FAULTY_PLUGIN});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json listed = json::parse(r.out);
    bool found = false;
    for (const auto& s : listed.at("strategies")) {
        if (s.at("name") == "leaks") {
            found = true;
            EXPECT_EQ(s.at("origin"), "tests/plugins/faulty_strategies.cpp");
        }
    }
    EXPECT_TRUE(found);
    for (const auto& w : listed.at("workloads")) {
        const auto strategies = w.at("strategies").get<std::vector<std::string>>();
        const bool has_leaks = std::ranges::find(strategies, "leaks") != strategies.end();
        EXPECT_EQ(has_leaks, w.at("name") == "node_churn") << w.at("name") << ": the plugin made node_churn cells only";
    }
}

TEST(Plugins, ShardsRunWithThePluginKeptInDifferentPlacesMerge) {
    Scratch s;
    // `leaks` leaks on purpose, which LeakSanitizer would turn into a failed cell.
    ::setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
    fs::create_directories(s.path());
    const fs::path first = s.path() / "a" / "libfaulty.so", second = s.path() / "b" / "libfaulty.so";
    for (const auto& copy : {first, second}) {
        fs::create_directories(copy.parent_path());
        fs::copy_file(ALLOCPROOF_FAULTY_PLUGIN, copy);
    }
    auto shard = [&](const fs::path& plugin, const std::string& part) {
        return driver(with({"run", "--plugin", plugin.string(), "--strategies", "std,leaks", "--shard", part, "--out",
                            (s.path() / part.substr(0, 1)).string()},
                           with(one_small_cell, {"--threads", "1,2"})));
    };
    ASSERT_EQ(shard(first, "1/2").exit_code, 0);
    ASSERT_EQ(shard(second, "2/2").exit_code, 0);
    auto merged = driver({"merge", (s.path() / "1").string(), (s.path() / "2").string(), "--out", s.out()});
    ASSERT_EQ(merged.exit_code, 0) << merged.err;
    json results = s.results();
    EXPECT_EQ(results.at("cells").size(), 4u);
    // Every cheat of tests/plugins/faulty/ adds its names: the plugin's list holds the ones run here.
    const auto names = results.at("plugins").at(0).at("strategies").get<std::vector<std::string>>();
    EXPECT_NE(std::ranges::find(names, "leaks"), names.end());
    EXPECT_TRUE(std::ranges::is_sorted(names));
}

TEST(Plugins, AResumedRunLoadsThePluginsItWasStartedWith) {
    Scratch s;
    ::setenv("ASAN_OPTIONS", "detect_leaks=0", 1);  // `leaks` leaks on purpose
    // A run cut short, resumed with no --plugin on the command line: the stored plan must bring
    // the plugin back, or the plugin's cells could not run.
    auto first = driver(with(
        {"run", "--plugin", ALLOCPROOF_FAULTY_PLUGIN, "--strategies", "std,leaks", "--out", s.out()}, one_small_cell));
    ASSERT_EQ(first.exit_code, 0) << first.err;
    json results = s.results();
    // Forget the second repetition of every cell, as a run killed half way would have.
    for (auto& cell : results["cells"]) {
        auto& reps = cell["repetitions"];
        reps.erase(reps.begin() + 1, reps.end());
    }
    results["status"] = "interrupted";
    std::ofstream(s.out() + "/results.json") << results.dump();
    auto resumed = driver({"run", "--resume", "--out", s.out()});
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    json complete = s.results();
    EXPECT_EQ(complete.at("status"), "complete");
    for (const auto& cell : complete.at("cells")) {
        EXPECT_EQ(cell.at("reps_ok"), 2) << cell.at("id");
        EXPECT_EQ(cell.at("status"), "ok") << cell.at("id");
    }
}

// ---- what a plugin cannot pass off (issue 14) ---------------------------------------------------

namespace {

// Sets an environment variable for the cell programs the driver starts, for one scope.
class scoped_environment {
public:
    scoped_environment(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
    ~scoped_environment() { ::unsetenv(name_); }
    scoped_environment(const scoped_environment&) = delete;
    scoped_environment& operator=(const scoped_environment&) = delete;

private:
    const char* name_;
};

std::map<std::string, json> cells_by_strategy(const json& results) {
    std::map<std::string, json> cells;
    for (const auto& cell : results.at("cells")) cells[cell.at("strategy").get<std::string>()] = cell;
    return cells;
}

}  // namespace

TEST(Trust, AWrongStrategyRunAloneIsCheckedAgainstAnAddedStd) {
    Scratch s;
    auto r = driver(with({"run", "--plugin", ALLOCPROOF_FAULTY_PLUGIN, "--strategies", "overlaps", "--out", s.out()},
                         one_small_cell));
    EXPECT_EQ(r.exit_code, 3) << "a strategy that corrupts memory does not pass for want of a reference\n" << r.err;
    const json results = s.results();
    auto cells = cells_by_strategy(results);
    ASSERT_TRUE(cells.contains("std")) << "std joins the group as its reference";
    EXPECT_TRUE(cells["std"].at("added_as_reference").get<bool>());
    EXPECT_EQ(cells["std"].at("status"), "ok");
    EXPECT_EQ(results.at("plan").at("references_added"), json::array({cells["std"].at("id")}));
    EXPECT_NE(r.out.find("added 1 reference cell"), std::string::npos) << r.out;
    ASSERT_TRUE(cells.contains("overlaps"));
    EXPECT_FALSE(cells["overlaps"].at("added_as_reference").get<bool>());
    EXPECT_EQ(cells["overlaps"].at("status"), "invalid") << cells["overlaps"].at("reason");
    EXPECT_EQ(cells["overlaps"].at("reference_digest"), cells["std"].at("digest"));
}

TEST(Trust, ForgedRecordsAreImplausible) {
    Scratch s;
    auto r = driver(with({"run", "--plugin", ALLOCPROOF_FAULTY_PLUGIN, "--strategies",
                          "std,forges_identity,forges_wall,forges_cpu", "--out", s.out()},
                         one_small_cell));
    EXPECT_EQ(r.exit_code, 3) << r.err;
    auto cells = cells_by_strategy(s.results());
    EXPECT_EQ(cells["std"].at("status"), "ok") << cells["std"].at("reason");
    const std::map<std::string, std::string> caught_by = {
        {"forges_identity", "trust me"},
        {"forges_wall", "from start to exit"},
        {"forges_cpu", "the kernel accounted"},
    };
    for (const auto& [strategy, fragment] : caught_by) {
        SCOPED_TRACE(strategy);
        ASSERT_TRUE(cells.contains(strategy));
        const json& cell = cells[strategy];
        EXPECT_EQ(cell.at("status"), "implausible");
        EXPECT_NE(reason_of(cell).find(fragment), std::string::npos) << reason_of(cell);
        EXPECT_EQ(cell.at("ratio_to_std"), nullptr) << "no figures from a record the driver does not believe";
        for (const auto& rep : cell.at("repetitions")) {
            EXPECT_EQ(rep.at("status"), "implausible");
            EXPECT_FALSE(rep.at("raw").is_null()) << "what the cell printed is kept, for a reader to see";
        }
    }
}

TEST(Plugins, ADirectoryIsNotAPlugin) {
    Scratch s;
    fs::create_directories(s.path());
    expect_one_error_line(driver(with({"run", "--plugin", s.path().string(), "--out", s.out()}, one_small_cell)),
                          "is a directory, not a plugin library");
    expect_one_error_line(driver({"list", "--plugin", s.path().string()}), "is a directory, not a plugin library");
}

TEST(Plugins, APluginThatPrintsOrExitsWhileLoadingIsToldWhatItDid) {
    Scratch s;
    const std::map<std::string, std::string> expected = {
        {"print", "printed \"hello from the faulty plugin\" while loading"},
        {"exit", "exited with code 7 while loading"},
    };
    for (const auto& [misbehaviour, message] : expected) {
        SCOPED_TRACE(misbehaviour);
        scoped_environment asked("ALLOCPROOF_FAULTY_ON_LOAD", misbehaviour.c_str());
        expect_one_error_line(
            driver(with({"run", "--plugin", ALLOCPROOF_FAULTY_PLUGIN, "--out", s.out()}, one_small_cell)), message);
        expect_one_error_line(driver({"list", "--plugin", ALLOCPROOF_FAULTY_PLUGIN}), message);
        EXPECT_FALSE(fs::exists(s.out()));
    }
}

TEST(Plugins, AStrategyNameOutsideTheAlphabetIsRefusedWithThePluginAndTheName) {
    Scratch s;
    const std::map<std::string, std::string> named = {{"comma", "\"has,comma\""}, {"newline", "\"has\\nnewline\""}};
    for (const auto& [misbehaviour, shown] : named) {
        SCOPED_TRACE(misbehaviour);
        scoped_environment asked("ALLOCPROOF_FAULTY_ON_LOAD", misbehaviour.c_str());
        for (const auto& args : {with({"run", "--plugin", ALLOCPROOF_FAULTY_PLUGIN, "--out", s.out()}, one_small_cell),
                                 std::vector<std::string>{"list", "--plugin", ALLOCPROOF_FAULTY_PLUGIN}}) {
            const auto r = driver(args);
            expect_one_error_line(r, "strategy name " + shown);
            EXPECT_NE(r.err.find(ALLOCPROOF_FAULTY_PLUGIN), std::string::npos) << r.err;
        }
        EXPECT_FALSE(fs::exists(s.out()));
    }
}
