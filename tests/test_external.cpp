// End-to-end tests of the real programs measured under each global allocator (external
// workloads: workloads/external/*.json, --external, --descriptor), through the driver binary.
#include "tests/driver_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace allocproof::testing;

namespace {

// Whether the program of an external workload is installed, from `allocproof list --json`.
bool installed(const std::string& workload) {
    auto r = driver({"list", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const json list = json::parse(r.out);
    for (const auto& e : list.at("external_workloads")) {
        if (e.at("name") == workload) return e.at("installed").get<bool>();
    }
    ADD_FAILURE() << "no external workload " << workload;
    return false;
}

// Up to two preloaded allocators of this build: `-a` accepts the allocators this build has cell
// programs for, external cells included.
std::vector<std::string> two_preloaded_allocators() {
    std::vector<std::string> chosen;
    for (const char* name : {"jemalloc", "mimalloc", "tcmalloc"}) {
        if (built_allocators().contains(name) && chosen.size() < 2) chosen.emplace_back(name);
    }
    return chosen;
}

const json& cell_for(const json& results, const std::string& workload, const std::string& allocator) {
    for (const auto& cell : results.at("cells")) {
        if (cell.at("workload") == workload && cell.at("allocator") == allocator) return cell;
    }
    throw std::runtime_error("no cell " + workload + "/" + allocator);
}

json run_program(const Scratch& s, const std::string& workload, const std::string& allocators,
                 std::vector<std::string> extra = {}) {
    auto r = driver(
        with({"run", "-w", workload, "-a", allocators, "--scale", "test", "--reps", "1", "--out", s.out()}, extra));
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    return s.results();
}

void expect_measured(const json& cell) {
    SCOPED_TRACE(cell.at("id").get<std::string>());
    EXPECT_EQ(cell.at("status"), "ok") << cell.at("reason");
    EXPECT_EQ(cell.at("strategy"), "as_installed");
    EXPECT_EQ(cell.at("allocator_identity").at("name"), cell.at("allocator"));
    EXPECT_EQ(cell.at("allocator_identity").at("serves_malloc"), true) << cell.at("allocator_identity").dump();
    const json& m = cell.at("metrics");
    for (const char* metric : {"wall_seconds", "cpu_seconds", "rss_peak_bytes", "program_throughput"}) {
        ASSERT_FALSE(m.at(metric).is_null()) << metric;
        EXPECT_GT(m.at(metric).at("median").get<double>(), 0) << metric;
    }
    EXPECT_TRUE(m.contains("minor_faults"));
    EXPECT_FALSE(cell.at("external").at("throughput_unit").is_null());
}

void write(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
}

}  // namespace

// ---- list ---------------------------------------------------------------------------------------

TEST(External, ListShowsTheRealPrograms) {
    auto r = driver({"list"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const char* name : {"redis", "rocksdb", "sqlite", "as_installed"}) {
        EXPECT_NE(r.out.find(name), std::string::npos) << name;
    }
    auto j = driver({"list", "--json"});
    ASSERT_EQ(j.exit_code, 0) << j.err;
    std::set<std::string> names;
    const json list = json::parse(j.out);
    for (const auto& e : list.at("external_workloads")) {
        names.insert(e.at("name").get<std::string>());
        EXPECT_TRUE(e.at("installed").is_boolean());
    }
    EXPECT_EQ(names, (std::set<std::string>{"redis", "rocksdb", "sqlite"}));
}

// ---- the three programs on two allocators ---------------------------------------------------

TEST(External, SqliteGivesTheSameResultsUnderEveryAllocator) {
    if (!installed("sqlite")) GTEST_SKIP() << "sqlite3 is not installed (apt-get install sqlite3)";
    Scratch s;
    const auto preloaded = two_preloaded_allocators();
    if (preloaded.empty()) GTEST_SKIP() << "this build has no allocator besides glibc";
    json results = run_program(s, "sqlite", "glibc," + preloaded.front());
    std::set<std::string> digests;
    for (const auto& cell : results.at("cells")) {
        expect_measured(cell);
        ASSERT_FALSE(cell.at("digest").is_null());
        digests.insert(cell.at("digest").get<std::string>());
    }
    EXPECT_EQ(digests.size(), 1u) << "the query results differ between allocators";
    const json& other = cell_for(results, "sqlite", preloaded.front());
    EXPECT_FALSE(other.at("ratio_to_glibc").is_null());
    EXPECT_TRUE(other.at("ratio_to_std").is_null());

    Scratch other_seed;
    json reseeded = run_program(other_seed, "sqlite", "glibc", {"--seed", "7"});
    EXPECT_NE(reseeded.at("cells").at(0).at("digest"), *digests.begin()) << "the script ignores the seed";
}

TEST(External, RocksdbRunsUnderTwoAllocators) {
    if (!installed("rocksdb")) GTEST_SKIP() << "db_bench is not installed (apt-get install rocksdb-tools)";
    Scratch s;
    const auto preloaded = two_preloaded_allocators();
    if (preloaded.empty()) GTEST_SKIP() << "this build has no allocator besides glibc";
    json results = run_program(s, "rocksdb", "glibc," + preloaded.front());
    for (const auto& cell : results.at("cells")) {
        expect_measured(cell);
        EXPECT_FALSE(cell.at("metrics").at("throughput_fillrandom").is_null());
        EXPECT_FALSE(cell.at("metrics").at("throughput_readrandom").is_null());
    }
}

TEST(External, RedisRunsUnderTwoAllocatorsAndItsOwnIsNotRelabelled) {
    if (!installed("redis")) GTEST_SKIP() << "redis-server is not installed (apt-get install redis-server redis-tools)";
    const auto preloaded = two_preloaded_allocators();
    if (preloaded.empty()) GTEST_SKIP() << "this build has no allocator besides glibc";
    Scratch s;
    std::string allocators = "glibc";
    for (const auto& a : preloaded) allocators += "," + a;
    json results = run_program(s, "redis", allocators);
    for (const auto& allocator : preloaded) {
        const json& cell = cell_for(results, "redis", allocator);
        expect_measured(cell);
        const json& report = cell.at("repetitions").at(0).at("raw").at("program_report");
        EXPECT_FALSE(report.at("mem_allocator").is_null());
        EXPECT_GE(std::stoull(report.at("total_commands_processed").get<std::string>()), 1500u);
        // A server's idle footprint is read when it first answers.
        EXPECT_GT(cell.at("metrics").at("rss_idle_bytes").at("median").get<double>(), 0);
        EXPECT_FALSE(cell.at("metrics").at("rss_steady_over_idle_bytes").is_null());
    }
    // Debian's redis-server links jemalloc, which then serves malloc when nothing is preloaded:
    // a glibc cell must say so rather than report jemalloc's figures as glibc's.
    const json& plain = cell_for(results, "redis", "glibc");
    if (plain.at("status") == "not_applicable") {
        EXPECT_NE(plain.at("reason").get<std::string>().find("not in effect"), std::string::npos);
        EXPECT_TRUE(plain.at("metrics").at("wall_seconds").is_null());
        EXPECT_EQ(plain.at("allocator_identity"), nullptr);
        EXPECT_EQ(plain.at("repetitions").at(0).at("allocator_identity").at("serves_malloc"), false);
    } else {
        expect_measured(plain);
    }
}

// ---- descriptors and commands of the user -------------------------------------------------------

TEST(External, MalformedDescriptorsAreRefused) {
    Scratch s;
    const fs::path file = s.path() / "mine.json";
    const std::string good_head =
        R"({"name": "mine", "summary": "x", "scales": {"default": {"n": 1}, "quick": {"n": 1}, "test": {"n": 1}}, )";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"{\"name\": ", "is not valid JSON"},
        {"[1, 2]", "is not a JSON object"},
        {good_head + R"("command": ["/bin/true"], "colour": "blue"})", "unknown key \"colour\""},
        {good_head + R"("command": []})", "\"command\" must be a non-empty array"},
        {good_head + R"("command": ["/bin/echo", "{nope}"]})", "{nope}"},
        {good_head + R"("command": ["/bin/true"], "throughput": {"regex": "(", "unit": "x"}})", "not a valid regex"},
        {R"({"name": "Bad Name", "summary": "x", "command": ["/bin/true"]})", "name 'Bad Name'"},
        {R"({"name": "node_churn", "summary": "x", "scales": {"default": {}, "quick": {}, "test": {}}, "command": ["/bin/true"]})",
         "taken by another workload"},
    };
    for (const auto& [text, fragment] : cases) {
        SCOPED_TRACE(text);
        write(file, text);
        expect_one_error_line(driver({"run", "--descriptor", file.string(), "--out", s.out()}), fragment);
        expect_one_error_line(driver({"list", "--descriptor", file.string()}), fragment);
    }
    expect_one_error_line(driver({"run", "--external", "no equals sign", "--out", s.out()}), "NAME=COMMAND");
    expect_one_error_line(driver({"run", "--external", "x=/bin/echo 'open", "--out", s.out()}), "unclosed quote");
    EXPECT_FALSE(fs::exists(s.out() + "/results.json"));
}

TEST(External, MalformedSizesAndIdleVariablesAreRefused) {
    Scratch s;
    const fs::path file = s.path() / "mine.json";
    const std::string scales = R"j("default": {"n": 1}, "quick": {"n": 1}, "test": {"n": 1})j";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {R"j({"name": "mine", "summary": "x", "scales": {)j" + scales +
             R"j(, "full": {"m": 1}}, "command": ["/bin/true"]})j",
         "\"full\" and \"default\" must define the same variables"},
        {R"j({"name": "mine", "summary": "x", "scales": {)j" + scales +
             R"j(, "huge": {"n": 1}}, "command": ["/bin/true"]})j",
         "unknown scale \"huge\""},
        {R"j({"name": "mine", "summary": "x", "scales": {)j" + scales +
             R"j(}, "idle": {"m": 0}, "command": ["/bin/true"]})j",
         "\"idle\" replaces 'm', which is not a scale variable"},
        {R"j({"name": "mine", "summary": "x", "scales": {)j" + scales + R"j(}, "idle": {"n": 0},
            "server": {"command": ["/bin/true"], "ready_command": ["/bin/true"], "ready_expect": "x"},
            "command": ["/bin/true"]})j",
         "\"idle\" is for a program that is not a server"},
        {R"j({"name": "mine", "summary": "x", "scales": {)j" + scales + R"j(}, "command": ["/bin/true"],
            "checks": [{"regex": "([0-9]+)", "at_least": "1", "matches": "three"}]})j",
         "\"matches\" must be a whole number or a template"},
        {R"j({"name": "mine", "summary": "x", "scales": {)j" + scales + R"j(}, "command": ["/bin/true"],
            "checks": [{"regex": "([0-9]+)", "at_least": "1", "matches": "{nope}"}]})j",
         "{nope}"},
    };
    for (const auto& [text, fragment] : cases) {
        SCOPED_TRACE(text);
        write(file, text);
        expect_one_error_line(driver({"run", "--descriptor", file.string(), "--out", s.out()}), fragment);
    }
}

TEST(External, TheFullSizeIsChosenByTheFlagAndADescriptorWithoutOneSaysSo) {
    Scratch s;
    // /bin/echo prints its scale's count on two lines, which the check reads back (`matches` is a
    // template, {steps}): the variables are the full scale's only where the descriptor has one.
    auto descriptor = [&](const std::string& name, bool with_full) {
        const fs::path file = s.path() / (name + ".json");
        write(file, R"({"name": ")" + name + R"(", "summary": "x",
            "scales": {"default": {"n": 40, "steps": 2}, "quick": {"n": 20, "steps": 2}, "test": {"n": 10, "steps": 2})" +
                        std::string(with_full ? R"(, "full": {"n": 4000, "steps": 2})" : "") + R"(},
            "command": ["/bin/echo", "{n} operations;\n{n} operations;"],
            "checks": [{"regex": "([0-9]+) operations;", "equals": "{n}", "matches": "{steps}"}]})");
        return file.string();
    };
    auto r = driver({"run", "--descriptor", descriptor("sized", true), "--descriptor", descriptor("unsized", false),
                     "-w", "sized,unsized", "-a", "glibc", "--scale", "test", "--real-program-sizes", "full", "--reps",
                     "1", "--out", s.out()});
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    json results = s.results();
    EXPECT_EQ(results.at("plan").at("request").at("real_program_sizes"), "full");
    const json& sized = cell_for(results, "sized", "glibc");
    EXPECT_EQ(sized.at("status"), "ok") << sized.at("reason");
    EXPECT_EQ(sized.at("params").at("scale"), "full");
    EXPECT_EQ(sized.at("params").at("variables").at("n"), "4000");
    EXPECT_TRUE(sized.at("params").at("scale_note").is_null());
    const json& unsized = cell_for(results, "unsized", "glibc");
    EXPECT_EQ(unsized.at("status"), "ok") << unsized.at("reason");
    EXPECT_EQ(unsized.at("params").at("scale"), "default");
    EXPECT_EQ(unsized.at("params").at("variables").at("n"), "40");
    EXPECT_NE(unsized.at("params").at("scale_note").get<std::string>().find("has no full scale"), std::string::npos);
}

TEST(External, SteadyMemoryOverTheIdleFootprintIsTheDataAProgramHolds) {
    if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3 to hold the memory";
    Scratch s;
    // Holds `mib` MiB of touched bytes for most of its run; its idle run holds none, with the same
    // interpreter and libraries: the difference must be the 48 MiB.
    const fs::path file = s.path() / "holder.json";
    write(file, R"j({"name": "holder", "summary": "holds mib MiB",
        "scales": {"default": {"mib": 48}, "quick": {"mib": 48}, "test": {"mib": 48}},
        "idle": {"mib": 0},
        "command": ["/usr/bin/python3", "-c", "import time; b = b'x' * ({mib} << 20); time.sleep(0.6)"]})j");
    auto r = driver({"run", "--descriptor", file.string(), "-w", "holder", "-a", "glibc", "--scale", "test", "--reps",
                     "3", "--out", s.out()});
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    const json cell = cell_for(s.results(), "holder", "glibc");
    ASSERT_EQ(cell.at("status"), "ok") << cell.at("reason");
    const json& m = cell.at("metrics");
    const double mib = 1 << 20;
    const double idle = m.at("rss_idle_bytes").at("median").get<double>() / mib;
    const double steady = m.at("rss_steady_bytes").at("median").get<double>() / mib;
    const double held = m.at("rss_steady_over_idle_bytes").at("median").get<double>() / mib;
    EXPECT_GT(idle, 2) << "an interpreter's footprint";
    for (const auto& rep : cell.at("repetitions")) {  // per repetition (medians need not subtract)
        const json& each = rep.at("metrics");
        EXPECT_NEAR(each.at("rss_steady_bytes").get<double>() - each.at("rss_idle_bytes").get<double>(),
                    each.at("rss_steady_over_idle_bytes").get<double>(), 1e-6);
    }
    EXPECT_NEAR(held, 48, 3) << "steady " << steady << " MiB, idle " << idle << " MiB";
    EXPECT_EQ(m.at("rss_steady_over_idle_bytes").at("n"), 3);
    EXPECT_FALSE(cell.at("repetitions").at(0).at("raw").at("idle_run").is_null());
}

TEST(External, CrashingHangingAndMissingCommandsAreRecordedAndTheRunGoesOn) {
    Scratch s;
    auto r = driver({"run",
                     "--external",
                     R"(crasher=/bin/sh -c "kill -SEGV $$")",
                     "--external",
                     "sleeper=/bin/sleep 120",
                     "--external",
                     "absent=/no/such/program --flag",
                     "--external",
                     "fine=/bin/echo {tmpdir}",
                     "-w",
                     "crasher,sleeper,absent,fine,node_churn",
                     "-s",
                     "std,as_installed",
                     "-a",
                     "glibc",
                     "--scale",
                     "test",
                     "--threads",
                     "1",
                     "--reps",
                     "1",
                     "--timeout",
                     "2",
                     "--out",
                     s.out()},
                    120);
    EXPECT_EQ(r.exit_code, 3) << r.err << r.out;
    json results = s.results();
    EXPECT_EQ(results.at("status"), "complete");
    const json& crashed = cell_for(results, "crasher", "glibc");
    EXPECT_EQ(crashed.at("status"), "failed");
    EXPECT_NE(crashed.at("reason").get<std::string>().find("SIGSEGV"), std::string::npos) << crashed.at("reason");
    const json& hung = cell_for(results, "sleeper", "glibc");
    EXPECT_EQ(hung.at("status"), "failed");
    EXPECT_NE(hung.at("reason").get<std::string>().find("timed out"), std::string::npos) << hung.at("reason");
    const json& absent = cell_for(results, "absent", "glibc");
    EXPECT_EQ(absent.at("status"), "failed");
    EXPECT_NE(absent.at("reason").get<std::string>().find("not installed"), std::string::npos) << absent.at("reason");
    const json& fine = cell_for(results, "fine", "glibc");
    EXPECT_EQ(fine.at("status"), "ok") << fine.at("reason");
    EXPECT_GT(fine.at("metrics").at("wall_seconds").at("median").get<double>(), 0);
    const json& model = cell_for(results, "node_churn", "glibc");
    EXPECT_EQ(model.at("status"), "ok");
    EXPECT_EQ(model.at("reps_ok"), 1);
}

TEST(External, AProgramThatIsNotInstalledIsSkippedAndSaidSo) {
    Scratch s;
    const fs::path file = s.path() / "missing.json";
    write(file, R"({"name": "missing_db", "summary": "x", "package": "no-such-package",
                    "scales": {"default": {}, "quick": {}, "test": {}},
                    "command": ["allocproof-no-such-program"]})");
    auto r = driver({"run", "--descriptor", file.string(), "-w", "missing_db,node_churn", "-s", "std,as_installed",
                     "-a", "glibc", "--scale", "test", "--threads", "1", "--reps", "1", "--out", s.out()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("missing_db: skipped, 'allocproof-no-such-program' is not installed"), std::string::npos)
        << r.out;
    json results = s.results();
    EXPECT_EQ(results.at("cells").size(), 1u);
    EXPECT_EQ(results.at("plan").at("skipped").size(), 1u);
}

TEST(External, ThroughputAndChecksAreReadFromTheOutput) {
    Scratch s;
    auto descriptor = [&](const std::string& name, int expected) {
        const fs::path file = s.path() / (name + ".json");
        write(file, R"({"name": ")" + name + R"(", "summary": "x",
            "scales": {"default": {"n": 40}, "quick": {"n": 40}, "test": {"n": )" +
                        std::to_string(expected) + R"(}},
            "command": ["/bin/echo", "fill : 250 ops/sec 40 operations;"],
            "throughput": {"regex": "^(\\w+) :.* ([0-9.]+) ops/sec", "unit": "ops/s"},
            "checks": [{"regex": " ([0-9]+) operations;", "equals": "{n}", "matches": 1}]})");
        return file.string();
    };
    auto r = driver({"run", "--descriptor", descriptor("counted", 40), "--descriptor", descriptor("miscounted", 41),
                     "-w", "counted,miscounted", "-a", "glibc", "--scale", "test", "--reps", "1", "--out", s.out()});
    EXPECT_EQ(r.exit_code, 3) << r.err << r.out;
    json results = s.results();
    const json& counted = cell_for(results, "counted", "glibc");
    EXPECT_EQ(counted.at("status"), "ok") << counted.at("reason");
    EXPECT_DOUBLE_EQ(counted.at("metrics").at("program_throughput").at("median").get<double>(), 250.0);
    EXPECT_DOUBLE_EQ(counted.at("metrics").at("throughput_fill").at("median").get<double>(), 250.0);
    const json& miscounted = cell_for(results, "miscounted", "glibc");
    EXPECT_EQ(miscounted.at("status"), "failed");
    EXPECT_NE(miscounted.at("reason").get<std::string>().find("check failed"), std::string::npos)
        << miscounted.at("reason");
}
