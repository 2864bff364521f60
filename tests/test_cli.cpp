// End-to-end tests of the driver: its command line, its isolation of faulty cells, the results
// of a real (small) run, interruption and --resume.
#include "harness/driver/child_process.hpp"
#include "tests/driver_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using json = nlohmann::json;
using allocproof::driver::child_outcome;
using allocproof::testing::built_allocators;
using allocproof::testing::driver;
using allocproof::testing::expect_one_error_line;
using allocproof::testing::Scratch;
using allocproof::testing::with;

namespace {

// A small matrix: enough operations to measure, little enough to run in a second or two.
const std::vector<std::string> tiny = {"--ops",  "20000", "--working-set", "500", "--warmup-ops", "1000",
                                       "--reps", "2",     "--threads",     "1"};

}  // namespace

// ---- list ---------------------------------------------------------------------------------------

TEST(Cli, ListShowsStrategiesWorkloadsAndAllocators) {
    auto r = driver({"list"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const char* name : {"std", "fixed_pool", "node_churn", "glibc"}) {
        EXPECT_NE(r.out.find(name), std::string::npos) << name;
    }
}

TEST(Cli, ListJsonIsMachineReadable) {
    auto r = driver({"list", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json j = json::parse(r.out);
    std::set<std::string> strategies, allocators;
    for (const auto& s : j.at("strategies")) strategies.insert(s.at("name").get<std::string>());
    for (const auto& a : j.at("allocators")) allocators.insert(a.get<std::string>());
    EXPECT_TRUE(strategies.contains("std"));
    EXPECT_TRUE(strategies.contains("fixed_pool"));
    EXPECT_EQ(allocators, built_allocators());
    // Issue 4's workloads (a variant counts under its base name) and the real databases.
    std::set<std::string> workloads, external;
    for (const auto& w : j.at("workloads")) {
        std::string name = w.at("name").get<std::string>();
        workloads.insert(name.substr(0, name.find(':')));
        EXPECT_FALSE(w.at("claims").get<std::string>().empty()) << name << " serves no claim";
        EXPECT_FALSE(w.at("families").get<std::string>().empty()) << name;
    }
    for (const auto& w : j.at("external_workloads")) external.insert(w.at("name").get<std::string>());
    for (const char* name : {"btree", "memtable_wal", "graph", "json_docs", "embeddings", "query_temps", "txn_sets",
                             "string_pool", "context_pool", "table_pool", "larson", "producer_consumer",
                             "fragmentation", "budget_pressure", "node_churn"}) {
        EXPECT_TRUE(workloads.contains(name)) << name;
    }
    EXPECT_EQ(external, (std::set<std::string>{"rocksdb", "redis", "sqlite"}));
}

// ---- bad input: one clear line, exit code 2 -----------------------------------------------------

TEST(Cli, UnknownNamesAreRefused) {
    Scratch s;
    expect_one_error_line(driver({"run", "--workloads", "no_such", "--out", s.out()}), "unknown workload 'no_such'");
    expect_one_error_line(driver({"run", "--strategies", "std,nope*", "--out", s.out()}), "unknown strategy 'nope*'");
    expect_one_error_line(driver({"run", "--allocators", "hoard", "--out", s.out()}), "unknown allocator 'hoard'");
    expect_one_error_line(driver({"run", "--strategies", "[abc", "--out", s.out()}), "bad strategy pattern '[abc'");
    expect_one_error_line(driver({"run", "--workloads", "node_*,*[", "--out", s.out()}), "bad workload pattern '*['");
    EXPECT_FALSE(fs::exists(s.out() + "/results.json"));
}

TEST(Cli, EmptyMatricesAreRefused) {
    Scratch s;
    expect_one_error_line(driver({"run", "--strategies", "", "--out", s.out()}), "--strategies '' has an empty item");
    expect_one_error_line(driver({"run", "--strategies", "std,", "--out", s.out()}), "empty item");
    expect_one_error_line(driver({"run", "--threads", "", "--out", s.out()}), "--threads");
    expect_one_error_line(driver({"run", "--workloads", ",", "--out", s.out()}), "--workloads");
}

TEST(Cli, BadNumbersAreRefused) {
    Scratch s;
    expect_one_error_line(driver({"run", "--threads", "two", "--out", s.out()}), "'two' is not a whole number");
    expect_one_error_line(driver({"run", "--threads", "1,-2", "--out", s.out()}), "'-2' is not a whole number");
    expect_one_error_line(driver({"run", "--threads", "0", "--out", s.out()}), "thread count 0");
    expect_one_error_line(driver({"run", "--reps", "0", "--out", s.out()}), "--reps 0");
    expect_one_error_line(driver({"run", "--reps", "-3", "--out", s.out()}), "");
    expect_one_error_line(driver({"run", "--sample-every", "100", "--out", s.out()}), "power of two");
    expect_one_error_line(driver({"run", "--timeout", "0", "--out", s.out()}), "");
    expect_one_error_line(driver({"run", "--memory-limit-mib", "-1", "--out", s.out()}), "memory-limit-mib");
    expect_one_error_line(driver({"run", "--memory-limit-mib", "lots", "--out", s.out()}), "memory-limit-mib");
    expect_one_error_line(driver({"run", "--ops", "0", "--out", s.out()}), "positive");
}

TEST(Cli, RealProgramSizesAreDefaultOrFull) {
    Scratch s;
    expect_one_error_line(driver({"run", "--real-program-sizes", "huge", "--out", s.out()}), "--real-program-sizes");
    expect_one_error_line(driver({"run", "--real-program-sizes", "", "--out", s.out()}), "--real-program-sizes");
    EXPECT_FALSE(fs::exists(s.out() + "/results.json"));
    // The run's request says which sizes the real programs ran at, default when not asked.
    auto r = driver({"run", "-w", "node_churn", "-s", "std", "-a", "glibc", "--scale", "test", "--threads", "1",
                     "--reps", "1", "--out", s.out()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(s.results().at("plan").at("request").at("real_program_sizes"), "default");
}

TEST(Cli, BadFlagsAndSubcommandsAreRefused) {
    expect_one_error_line(driver({"run", "--no-such-flag"}), "no-such-flag");
    expect_one_error_line(driver({"frobnicate"}), "");
    expect_one_error_line(driver({}), "");
}

// A cell program is run by hand to look into a failed cell (README): it explains its options.
TEST(Cli, ACellProgramExplainsItsOptionsAndRefusesBadOnes) {
    const std::string cell_program = (fs::path(ALLOCPROOF_DRIVER).parent_path() / "allocproof-cell-glibc").string();
    std::atomic<bool> never{false};
    const auto help = allocproof::driver::run_child({cell_program, "--help"}, std::chrono::seconds(30), never);
    EXPECT_EQ(help.exit_code, 0) << help.err;
    EXPECT_NE(help.out.find("--workload"), std::string::npos) << help.out;
    const auto bad = allocproof::driver::run_child({cell_program, "--no-such-flag"}, std::chrono::seconds(30), never);
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.err.find("no-such-flag"), std::string::npos) << bad.err;
}

TEST(Cli, UnwritableOutputFolderIsRefusedBeforeMeasuring) {
    expect_one_error_line(driver({"run", "--out", "/proc/allocproof-cannot-write-here"}), "cannot create");
    Scratch s;
    fs::create_directories(s.out());
    std::ofstream(s.out() + "/results.json") << "{}";
    expect_one_error_line(driver({"run", "--out", s.out()}), "already holds a run");
}

TEST(Cli, ResumeOfSomethingElseIsRefused) {
    Scratch s;
    expect_one_error_line(driver({"run", "--resume", "--out", s.out()}), "no results.json");
    fs::create_directories(s.out());
    std::ofstream(s.out() + "/results.json") << "{\"truncated\": ";
    expect_one_error_line(driver({"run", "--resume", "--out", s.out()}), "not valid JSON");
    std::ofstream(s.out() + "/results.json") << "{\"schema_version\": 99}";
    expect_one_error_line(driver({"run", "--resume", "--out", s.out()}), "not an allocproof results file");
}

// ---- inputs that used to slip through (issue 14) ------------------------------------------------

namespace {

// A matrix that finishes in a moment, should a refused input be taken after all.
const std::vector<std::string> one_quick_cell = {"-w",      "node_churn", "-s",        "std", "-a",     "glibc",
                                                 "--scale", "test",       "--threads", "1",   "--reps", "1"};

// A run of `args` cut short after its first repetition: its results.json as a killed driver leaves it.
json interrupted_run(const Scratch& s, const std::vector<std::string>& args) {
    auto r = driver(with({"run", "--out", s.out()}, args));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    json results = s.results();
    for (auto& cell : results["cells"]) {
        auto& reps = cell["repetitions"];
        if (reps.size() > 1) reps.erase(reps.begin() + 1, reps.end());
    }
    results["status"] = "interrupted";
    return results;
}

void store(const Scratch& s, const json& results) { std::ofstream(s.out() + "/results.json") << results.dump(); }

}  // namespace

TEST(Cli, NonFiniteOrNegativeLimitsAreRefused) {
    Scratch s;
    for (const auto& [flag, value] : std::vector<std::pair<std::string, std::string>>{{"--timeout", "nan"},
                                                                                      {"--timeout", "inf"},
                                                                                      {"--timeout", "-1"},
                                                                                      {"--timeout", "1e300"},
                                                                                      {"--noise-threshold", "nan"},
                                                                                      {"--noise-threshold", "-inf"},
                                                                                      {"--noise-threshold", "-0.5"},
                                                                                      {"--min-phase-ms", "nan"},
                                                                                      {"--budget", "nan"},
                                                                                      {"--budget", "-1"}}) {
        SCOPED_TRACE(flag + " " + value);
        expect_one_error_line(driver(with({"run", flag, value, "--out", s.out()}, one_quick_cell)), flag);
        EXPECT_FALSE(fs::exists(s.out() + "/results.json"));
    }
}

TEST(Cli, NegativeWholeNumbersAreRefusedNotWrapped) {
    Scratch s;
    for (const char* flag : {"--seed", "--ops", "--working-set", "--warmup-ops", "--sample-every"}) {
        SCOPED_TRACE(flag);
        expect_one_error_line(driver(with(with({"run", "--out", s.out()}, one_quick_cell), {flag, "-1"})),
                              "not a whole number");
        EXPECT_FALSE(fs::exists(s.out() + "/results.json"));
    }
}

TEST(Cli, AShardCountOutOfRangeIsRefused) {
    Scratch s;
    for (const char* shard : {"1/18446744073709551615", "1/4294967297", "1/10001", "4294967297/4294967298"}) {
        SCOPED_TRACE(shard);
        expect_one_error_line(driver(with({"run", "--shard", shard, "--out", s.out()}, one_quick_cell)), "--shard");
    }
    EXPECT_FALSE(fs::exists(s.out() + "/results.json"));
}

TEST(Cli, AStoredLimitThatIsNotANumberIsRefusedOnResume) {
    Scratch s;
    json results = interrupted_run(s, with(one_quick_cell, {"--reps", "2"}));
    for (const char* limit : {"timeout_seconds", "noise_threshold"}) {
        SCOPED_TRACE(limit);
        json edited = results;
        edited["plan"][limit] = nullptr;  // how an older driver stored --timeout nan
        store(s, edited);
        expect_one_error_line(driver({"run", "--resume", "--out", s.out()}), limit);
    }
}

TEST(RealRun, AThreadCountGivenTwiceIsRunOnceAndResumedToThePlan) {
    Scratch s;
    const auto args = with(one_quick_cell, {"--threads", "1,1", "--reps", "2"});
    json results = interrupted_run(s, args);
    ASSERT_EQ(results.at("cells").size(), 1u) << "one cell, whatever the repeated count";
    EXPECT_EQ(results.at("plan").at("request").at("threads"), json::array({1}));
    store(s, results);
    auto resumed = driver({"run", "--resume", "--out", s.out()});
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    const json complete = s.results();
    ASSERT_EQ(complete.at("cells").size(), 1u);
    EXPECT_EQ(complete.at("cells").at(0).at("reps_done"), 2) << "the plan's repetitions, not more";
    // compare reads the file: it refuses a run that holds one cell twice.
    auto compared = driver({"compare", s.out(), s.out()});
    EXPECT_NE(compared.exit_code, 2) << compared.err;
    EXPECT_EQ(compared.err.find("repeats cell"), std::string::npos) << compared.err;
}

TEST(RealRun, SummaryCsvQuotesFieldsThatHoldCommasQuotesOrLineBreaks) {
    Scratch s;
    auto r = driver(with({"run", "--out", s.out()}, one_quick_cell));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // A hand-edited (or older) file whose names hold what a CSV line cannot hold bare.
    json results = s.results();
    const std::string odd = "odd, \"quoted\"\nname";
    results["cells"][0]["strategy"] = odd;
    store(s, results);
    const std::string merged = (s.path() / "merged").string();
    auto m = driver({"merge", s.out(), "--out", merged});
    ASSERT_EQ(m.exit_code, 0) << m.err;
    std::ifstream in(merged + "/summary.csv");
    const std::string csv{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    // RFC 4180 read back: fields split on commas outside quotes, "" a quote inside them.
    std::vector<std::vector<std::string>> rows(1, std::vector<std::string>(1));
    bool quoted = false;
    for (std::size_t i = 0; i < csv.size(); ++i) {
        const char c = csv[i];
        if (quoted && c == '"' && i + 1 < csv.size() && csv[i + 1] == '"') {
            rows.back().back() += '"';
            ++i;
        } else if (c == '"') {
            quoted = !quoted;
        } else if (!quoted && c == ',') {
            rows.back().emplace_back();
        } else if (!quoted && c == '\n') {
            rows.emplace_back(1);
        } else {
            rows.back().back() += c;
        }
    }
    if (rows.back() == std::vector<std::string>(1)) rows.pop_back();
    ASSERT_EQ(rows.size(), 2u) << csv;
    EXPECT_EQ(rows[1].size(), rows[0].size()) << csv;
    EXPECT_EQ(rows[1].at(1), odd) << csv;
}

TEST(RealRun, ACellWhoseGroupHasNoWorkingStdIsUnverifiedNotOk) {
    Scratch s;
    json results = interrupted_run(s, {"-w", "node_churn", "-s", "std,fixed_pool", "-a", "glibc", "--scale", "test",
                                       "--threads", "1", "--reps", "1"});
    // std's repetition failed: the group has nothing trusted to check fixed_pool's digest against.
    for (auto& cell : results["cells"]) {
        if (cell.at("strategy") != "std") continue;
        for (auto& rep : cell["repetitions"]) {
            rep["status"] = "failed";
            rep["reason"] = "crashed with SIGSEGV";
        }
    }
    store(s, results);
    auto resumed = driver({"run", "--resume", "--out", s.out()});
    EXPECT_EQ(resumed.exit_code, 3) << "a run with an unverified cell is not a clean run\n" << resumed.err;
    int checked = 0;
    const json complete = s.results();
    for (const auto& cell : complete.at("cells")) {
        if (cell.at("strategy") != "fixed_pool") continue;
        ++checked;
        EXPECT_EQ(cell.at("status"), "unverified") << cell.dump();
        EXPECT_NE(cell.value("reason", json("")).dump().find("std failed"), std::string::npos) << cell.at("reason");
        EXPECT_TRUE(cell.at("reference_digest").is_null());
    }
    EXPECT_EQ(checked, 1) << complete.dump();
}

// ---- isolation: faulty cells are planted by a plugin of faulty strategies (test_plugins.cpp) -----

// ---- a real run, end to end --------------------------------------------------------------------

TEST(RealRun, ResultsFollowTheSchema) {
    Scratch s;
    auto r =
        driver(with({"run", "--workloads", "node_churn", "--strategies", "*", "--allocators", "*", "--out", s.out()},
                    with(tiny, {"--threads", "1,2"})));
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    json results = s.results();
    EXPECT_EQ(results.at("schema_version"), 1);
    EXPECT_EQ(results.at("status"), "complete");
    const json& env = results.at("environment");
    for (const char* key : {"cpu_model", "logical_cpus", "kernel", "compiler", "compiler_flags", "libraries",
                            "allocators", "git_commit", "time", "command_line"}) {
        EXPECT_TRUE(env.contains(key)) << key;
    }
    EXPECT_FALSE(results.at("settings").empty());
    EXPECT_EQ(results.at("plan").at("request").at("seed"), 42);

    std::set<std::string> allocators, digests;
    for (const auto& cell : results.at("cells")) {
        SCOPED_TRACE(cell.at("id").get<std::string>());
        for (const char* key : {"workload", "strategy", "allocator", "threads", "status", "digest", "metrics",
                                "ratio_to_std", "repetitions", "noisy", "allocator_identity"}) {
            EXPECT_TRUE(cell.contains(key)) << key;
        }
        EXPECT_EQ(cell.at("status"), "ok");
        EXPECT_EQ(cell.at("allocator_identity").at("name"), cell.at("allocator"));
        EXPECT_TRUE(cell.at("allocator_identity").at("serves_malloc").get<bool>());
        allocators.insert(cell.at("allocator").get<std::string>());
        digests.insert(cell.at("digest").get<std::string>() + "/t" + std::to_string(cell.at("threads").get<int>()));
        const json& ns = cell.at("metrics").at("ns_per_op");
        EXPECT_GT(ns.at("median").get<double>(), 0);
        EXPECT_LE(ns.at("min").get<double>(), ns.at("median").get<double>());
        EXPECT_GE(ns.at("max").get<double>(), ns.at("median").get<double>());
        EXPECT_EQ(ns.at("n"), 2);
        const json& rep = cell.at("repetitions").at(0);
        EXPECT_TRUE(rep.at("metrics").contains("latency_p999_ns"));
        EXPECT_TRUE(rep.at("metrics").contains("instructions_per_op"));  // a number or null
        EXPECT_TRUE(rep.at("probe_cost").contains("timer_sample_ns"));
        if (cell.at("strategy") == "std") {
            EXPECT_EQ(cell.at("ratio_to_std"), nullptr);
            // The baseline takes every node from the global allocator: one call per placement.
            EXPECT_GT(cell.at("metrics").at("alloc_calls").at("median").get<double>(), 0);
        } else {
            const json& ratio = cell.at("ratio_to_std").at("ns_per_op");
            EXPECT_LE(ratio.at("ci_low").get<double>(), ratio.at("estimate").get<double>());
            EXPECT_GE(ratio.at("ci_high").get<double>(), ratio.at("estimate").get<double>());
        }
    }
    EXPECT_EQ(allocators, built_allocators());
    EXPECT_EQ(digests.size(), 2u) << "one digest per thread count, shared by every strategy and allocator";
    std::ifstream csv(s.out() + "/summary.csv");
    std::string header;
    std::getline(csv, header);
    EXPECT_EQ(header.rfind("workload,strategy,allocator,threads,status", 0), 0u);
}

// ---- interruption and resume --------------------------------------------------------------------

// Starts the driver in the background (stdout to /dev/null); the caller signals and reaps it.
static pid_t start_driver(std::vector<std::string> args) {
    pid_t pid = ::fork();
    if (pid == 0) {
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        int null = ::open("/dev/null", O_WRONLY);
        ::dup2(null, 1);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    return pid;
}

TEST(RealRun, InterruptedRunKeepsFinishedCellsAndResumes) {
    Scratch s;
    std::vector<std::string> args = with({ALLOCPROOF_DRIVER, "run", "--workloads", "node_churn", "--strategies",
                                          "std,fixed_pool", "--allocators", "glibc", "--out", s.out()},
                                         tiny);
    args.insert(args.end(), {"--reps", "20"});  // long enough to be interrupted mid-run
    pid_t pid = start_driver(args);
    ASSERT_GE(pid, 0);
    // Wait for a finished repetition in the journal, then Ctrl-C: most likely mid-cell, which must
    // not be recorded as the cell's failure.
    const std::string journal = s.out() + "/journal.jsonl";
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while ((!fs::exists(journal) || fs::file_size(journal) == 0) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid, SIGINT);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 130);

    json partial = s.results();
    EXPECT_EQ(partial.at("status"), "interrupted");
    std::size_t done_before = 0;
    for (const auto& cell : partial.at("cells")) {
        done_before += cell.at("reps_done").get<std::size_t>();
        for (const auto& rep : cell.at("repetitions")) EXPECT_EQ(rep.at("status"), "ok");
    }
    EXPECT_GE(done_before, 1u);
    EXPECT_LT(done_before, 40u) << "the run was not stopped";

    auto resumed = driver({"run", "--resume", "--out", s.out()});
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    json complete = s.results();
    EXPECT_EQ(complete.at("status"), "complete");
    for (const auto& cell : complete.at("cells")) {
        EXPECT_EQ(cell.at("status"), "ok");
        EXPECT_EQ(cell.at("reps_done"), 20);
    }
    EXPECT_EQ(complete.at("environment").at("resumed").size(), 1u);
}

TEST(RealRun, KilledDriverLosesNothingTheJournalHolds) {
    Scratch s;
    std::vector<std::string> args = with({ALLOCPROOF_DRIVER, "run", "--workloads", "node_churn", "--strategies",
                                          "std,fixed_pool", "--allocators", "glibc", "--out", s.out()},
                                         tiny);
    args.insert(args.end(), {"--reps", "20"});  // long enough to be killed mid-run
    pid_t pid = start_driver(args);
    ASSERT_GE(pid, 0);
    // Wait for at least one finished repetition in the journal, then kill the driver outright:
    // no handler runs, results.json stays at its last checkpoint.
    const std::string journal = s.out() + "/journal.jsonl";
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while ((!fs::exists(journal) || fs::file_size(journal) == 0) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    std::map<std::string, double> journalled;  // "cell#rep" -> seconds, as measured before the kill
    {
        std::ifstream in(journal);
        std::string line;
        while (std::getline(in, line)) {
            json entry = json::parse(line);
            journalled[entry["cell"].get<std::string>() + "#" + std::to_string(entry["record"]["rep"].get<int>())] =
                entry["record"]["seconds"].get<double>();
        }
    }
    ASSERT_FALSE(journalled.empty());

    auto resumed = driver({"run", "--resume", "--out", s.out()});
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    json complete = s.results();
    EXPECT_EQ(complete.at("status"), "complete");
    std::size_t kept = 0;
    for (const auto& cell : complete.at("cells")) {
        EXPECT_EQ(cell.at("reps_done"), 20);
        for (const auto& rep : cell.at("repetitions")) {
            auto found = journalled.find(cell["id"].get<std::string>() + "#" + std::to_string(rep["rep"].get<int>()));
            if (found != journalled.end() && found->second == rep["seconds"].get<double>()) ++kept;
        }
    }
    EXPECT_EQ(kept, journalled.size()) << "a repetition measured before the kill was run again or lost";
    EXPECT_FALSE(fs::exists(journal)) << "a complete run folds its journal into results.json";
}

TEST(RealRun, AFullDiskStopsTheRunWithOneLineAndLosesNothingWritten) {
    Scratch s;
    // A file size limit of 20 KiB stands in for a full disk: the same failed write (EFBIG rather
    // than ENOSPC), with no need for a filesystem of our own. The first results.json fits; the
    // journal outgrows it a few repetitions later.
    std::vector<std::string> args = {"/bin/bash",
                                     "-c",
                                     "trap '' XFSZ; ulimit -f 20; exec \"$0\" \"$@\"",
                                     ALLOCPROOF_DRIVER,
                                     "run",
                                     "--workloads",
                                     "node_churn",
                                     "--strategies",
                                     "std,fixed_pool",
                                     "--allocators",
                                     "glibc",
                                     "--out",
                                     s.out()};
    args = with(args, tiny);
    args.insert(args.end(), {"--reps", "6"});
    std::atomic<bool> never{false};
    auto full = allocproof::driver::run_child(args, std::chrono::seconds(300), never);
    EXPECT_EQ(full.exit_code, 4) << full.err;
    EXPECT_NE(full.err.find("allocproof: error: cannot"), std::string::npos) << full.err;
    EXPECT_NE(full.err.find("File too large"), std::string::npos) << full.err;
    EXPECT_EQ(std::count(full.err.begin(), full.err.end(), '\n'), 1) << full.err;
    // results.json is whole (the last one written: writes are atomic), and no temporary is left.
    json partial = s.results();
    EXPECT_EQ(partial.at("status"), "running");
    for (const auto& entry : fs::directory_iterator(s.out())) {
        EXPECT_NE(entry.path().extension(), ".tmp") << entry.path();
    }
    // With room again, --resume finishes the run from what was kept.
    auto resumed = driver({"run", "--resume", "--out", s.out()});
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    json complete = s.results();
    EXPECT_EQ(complete.at("status"), "complete");
    for (const auto& cell : complete.at("cells")) EXPECT_EQ(cell.at("reps_ok"), 6) << cell.at("id");
}

TEST(RealRun, DirtyHeapStaysResidentThroughTheMeasuredPhase) {
    Scratch s;  // one scratch folder per test: the two runs go to sub-folders of it
    std::vector<std::string> args = {"run",     "-w",   "node_churn", "-s", "std",    "-a", "glibc",
                                     "--scale", "test", "--threads",  "2",  "--reps", "1"};
    auto plain = args, fragmented = args;
    const std::string fresh_out = (s.path() / "fresh").string(), dirty_out = (s.path() / "dirty").string();
    plain.insert(plain.end(), {"--out", fresh_out});
    fragmented.insert(fragmented.end(), {"--out", dirty_out, "--dirty-heap", "--dirty-heap-mib", "16"});
    ASSERT_EQ(driver(plain).exit_code, 0);
    ASSERT_EQ(driver(fragmented).exit_code, 0);
    auto results = [](const std::string& out) { return json::parse(std::ifstream(out + "/results.json")); };
    const json fresh = results(fresh_out), dirty = results(dirty_out);
    const json a = fresh["cells"][0], b = dirty["cells"][0];
    EXPECT_EQ(a["digest"], b["digest"]);
    EXPECT_EQ(dirty["plan"]["request"]["dirty_heap_bytes"], 16u << 20);
    auto rss = [](const json& cell) {
        const json& raw = cell["repetitions"][0]["raw"];
        return raw["rss_end_of_measure_bytes"].get<double>() - raw["rss_before_setup_bytes"].get<double>();
    };
    // Two threads each allocate 16 MiB and keep about half: at least 12 MiB more stays resident.
    EXPECT_GT(rss(b), rss(a) + 12.0 * (1 << 20));
}

TEST(RealRun, EveryWorkloadComputesTheSameOnTwoAllocators) {
    const auto allocators = built_allocators();
    if (allocators.size() < 2) GTEST_SKIP() << "this build has one cell program; the Release build has four";
    std::string two = *allocators.begin();
    two.append(",").append(*std::next(allocators.begin()));
    // The model workloads only (the real databases have their own test), at the test scale.
    json list = json::parse(driver({"list", "--json"}).out);
    std::string workloads;
    for (const auto& w : list.at("workloads")) {
        if (!workloads.empty()) workloads.append(",");
        workloads.append(w.at("name").get<std::string>());
    }
    Scratch s;
    auto r = driver(
        {"run", "-w", workloads, "-a", two, "--scale", "test", "--threads", "1,2", "--reps", "1", "--out", s.out()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, std::set<std::string>> digests;   // workload/tN -> digests seen
    std::map<std::string, std::set<std::string>> compared;  // workload/tN -> "strategy@allocator"
    const json results = s.results();
    for (const auto& cell : results.at("cells")) {
        ASSERT_EQ(cell.at("status"), "ok") << cell.at("id");
        std::string group = cell["workload"].get<std::string>();
        group.append("/t").append(std::to_string(cell["threads"].get<int>()));
        digests[group].insert(cell["digest"].get<std::string>());
        compared[group].insert(cell["strategy"].get<std::string>() + "@" + cell["allocator"].get<std::string>());
    }
    ASSERT_EQ(digests.size(), 2 * list.at("workloads").size());
    for (const auto& [group, seen] : digests) {
        EXPECT_EQ(seen.size(), 1u) << group << " computed different things";
        EXPECT_GE(compared[group].size(), 6u) << group << ": fewer than 3 strategies x 2 allocators";
    }
}

// ---- the allocator label is verified -----------------------------------------------------------

TEST(AllocatorIdentity, EveryCellProgramIsServedByItsOwnAllocator) {
    std::atomic<bool> never{false};
    for (const auto& name : built_allocators()) {
        auto program = fs::path(ALLOCPROOF_DRIVER).parent_path() / ("allocproof-cell-" + name);
        auto r = allocproof::driver::run_child({program.string(), "--identify"}, std::chrono::seconds(30), never);
        ASSERT_EQ(r.exit_code, 0) << r.err;
        json id = json::parse(r.out);
        EXPECT_EQ(id.at("name"), name);
        EXPECT_TRUE(id.at("serves_malloc").get<bool>()) << id.dump();
        EXPECT_FALSE(id.at("version").get<std::string>().empty());
    }
}

TEST(AllocatorIdentity, AMislabelledCellFails) {
    // The glibc program asked to be jemalloc: the cell refuses to measure (exit code 3).
    std::atomic<bool> never{false};
    auto program = fs::path(ALLOCPROOF_DRIVER).parent_path() / "allocproof-cell-glibc";
    auto r = allocproof::driver::run_child({program.string(), "--allocator", "jemalloc", "--workload", "node_churn",
                                            "--strategy", "std", "--ops", "100", "--working-set", "10"},
                                           std::chrono::seconds(30), never);
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_NE(r.err.find("asked for allocator 'jemalloc'"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty());
}

// ---- memory figures belong to the cell, not to whoever started it -------------------------------

TEST(CellMemory, PeakResidentIsTheCellsOwnNotItsParents) {
    // The parent (this test) first touches 512 MiB, as a driver holding a large results file does.
    // getrusage's ru_maxrss would hand that high-water mark to the exec'd cell. Half of it is far
    // above a cell's own peak, even a sanitizer build's (some 140 MiB, mostly the sanitizer's).
    constexpr std::size_t parent_bytes = 512u << 20;
    std::vector<char> ballast(parent_bytes);
    for (std::size_t i = 0; i < ballast.size(); i += 4096) ballast[i] = static_cast<char>(i);
    asm volatile("" : : "r"(ballast.data()) : "memory");
    std::atomic<bool> never{false};
    auto program = fs::path(ALLOCPROOF_DRIVER).parent_path() / "allocproof-cell-glibc";
    auto r = allocproof::driver::run_child({program.string(), "--allocator", "glibc", "--workload", "node_churn",
                                            "--strategy", "std", "--ops", "1000", "--working-set", "100"},
                                           std::chrono::seconds(60), never);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json m = json::parse(r.out).at("measurement");
    const auto peak = m.at("rss_peak_bytes").get<std::uint64_t>();
    EXPECT_LT(peak, parent_bytes / 2) << "the cell reported its parent's peak RSS";
    EXPECT_GE(peak, m.at("rss_end_of_measure_bytes").get<std::uint64_t>());
    asm volatile("" : : "r"(ballast.data()) : "memory");  // the ballast stays, touched, until the cell has run
}

// ---- progress: on a terminal only ----------------------------------------------------------------

TEST(Progress, SilentWhenStderrIsNotATerminal) {
    Scratch s;
    auto r = driver(with(
        {"run", "--workloads", "node_churn", "--strategies", "std", "--allocators", "glibc", "--out", s.out()}, tiny));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
}

TEST(Progress, ShownOnATerminal) {
    Scratch s;
    std::vector<std::string> args = with({ALLOCPROOF_DRIVER, "run", "--workloads", "node_churn", "--strategies", "std",
                                          "--allocators", "glibc", "--out", s.out()},
                                         tiny);
    int terminal = -1;
    pid_t pid = ::forkpty(&terminal, nullptr, nullptr, nullptr);
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    std::string screen;
    char buffer[4096];
    for (;;) {
        ssize_t got = ::read(terminal, buffer, sizeof buffer);
        if (got <= 0) break;  // EIO once the driver has exited and the terminal closed
        screen.append(buffer, static_cast<std::size_t>(got));
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::close(terminal);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << screen;
    EXPECT_NE(screen.find("[1/2] elapsed 00:0"), std::string::npos) << screen;
    EXPECT_NE(screen.find("ETA"), std::string::npos) << screen;
    EXPECT_NE(screen.find("node_churn/std/glibc/t1 rep"), std::string::npos) << screen;
}
