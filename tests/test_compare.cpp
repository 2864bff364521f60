// End-to-end tests of `allocproof compare`: a real small run, compared with itself and with
// copies of it in which one cell is made slower, trimmed to three repetitions, compressed, or
// broken.
#include "tests/driver_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using json = nlohmann::json;
using allocproof::driver::child_outcome;
using allocproof::testing::driver;
using allocproof::testing::expect_one_error_line;

namespace {

class Compare : public ::testing::Test {
protected:
    // One real run for the whole file: 4 cells x 5 repetitions at the test scale, about a second.
    static void SetUpTestSuite() {
        folder_ = fs::temp_directory_path() / ("allocproof-compare-" + std::to_string(::getpid()));
        fs::remove_all(folder_);
        auto r = driver({"run", "-w", "node_churn,graph", "-s", "std,fixed_pool", "-a", "glibc", "--threads", "1",
                         "--scale", "test", "--reps", "5", "--out", (folder_ / "run").string()});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        run_ = json::parse(std::ifstream(folder_ / "run" / "results.json"));
    }
    static void TearDownTestSuite() { fs::remove_all(folder_); }

    static std::string run_folder() { return (folder_ / "run").string(); }

    static std::string write(const std::string& name, const json& document) {
        const fs::path path = folder_ / name;
        std::ofstream(path) << document.dump();
        return path.string();
    }

    static std::vector<double> ns_per_op(const json& cell) {
        std::vector<double> values;
        for (const auto& rep : cell.at("repetitions")) values.push_back(rep.at("metrics").at("ns_per_op"));
        return values;
    }

    // The cell whose repetitions spread least (max / min of ns_per_op), and a factor that makes
    // it slower beyond any overlap: 1.5, or more when the machine is so noisy that even this
    // cell's slowest repetition is 1.5x its fastest. Then every planted value exceeds every
    // original one, and the test is about compare, not about this machine's noise.
    static std::pair<std::string, double> plantable_cell() {
        std::string best;
        double spread = 0;
        for (const auto& cell : run_.at("cells")) {
            auto values = ns_per_op(cell);
            double s = *std::ranges::max_element(values) / *std::ranges::min_element(values);
            if (best.empty() || s < spread) {
                best = cell.at("id");
                spread = s;
            }
        }
        return {best, std::max(1.5, 1.25 * spread)};
    }

    // A copy of the run with one metric of one cell multiplied by `factor`, repetitions and
    // summary alike.
    static json planted(json document, const std::string& id, double factor, const std::string& metric = "ns_per_op") {
        for (auto& cell : document.at("cells")) {
            if (cell.at("id") != id) continue;
            for (auto& rep : cell.at("repetitions"))
                rep.at("metrics").at(metric) = rep.at("metrics").at(metric).get<double>() * factor;
            for (const char* key : {"median", "min", "max"}) {
                json& v = cell.at("metrics").at(metric).at(key);
                v = v.get<double>() * factor;
            }
        }
        return document;
    }

    // The run as if it had been made with --reps 3: the last two repetitions of each cell gone.
    static json three_repetitions(json document) {
        document.at("plan").at("reps") = 3;
        for (auto& cell : document.at("cells")) {
            auto& reps = cell.at("repetitions");
            reps.erase(reps.begin() + 3, reps.end());
            for (const char* key : {"reps_planned", "reps_done", "reps_ok"}) cell.at(key) = 3;
        }
        return document;
    }

    static json compare_json(std::vector<std::string> args, child_outcome* outcome = nullptr) {
        const std::string out = (folder_ / "compare.json").string();
        args.insert(args.begin(), "compare");
        args.insert(args.end(), {"--json", out});
        auto r = driver(args);
        if (outcome != nullptr) *outcome = r;
        EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.err;
        return json::parse(std::ifstream(out));
    }

    static std::set<std::string> with_verdict(const json& comparison, const std::string& verdict) {
        std::set<std::string> ids;
        for (const auto& c : comparison.at("comparisons")) {
            if (c.at("verdict") == verdict)
                ids.insert(c.at("id").get<std::string>() + " " + c.at("metric").get<std::string>());
        }
        return ids;
    }

    static inline fs::path folder_;
    static inline json run_;
};

}  // namespace

TEST_F(Compare, PlantedRegressionIsFoundAndNamed) {
    auto [id, factor] = plantable_cell();
    const std::string slower = write("slower.json", planted(run_, id, factor));
    child_outcome r;
    json comparison = compare_json({run_folder(), slower}, &r);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_EQ(comparison.at("exit_code"), 1);
    EXPECT_EQ(with_verdict(comparison, "regression"), std::set<std::string>{id + " ns_per_op"});
    EXPECT_EQ(with_verdict(comparison, "unchanged").size(), run_.at("cells").size() - 1);
    for (const auto& c : comparison.at("comparisons")) {
        if (c.at("id") != id) continue;
        EXPECT_NEAR(c.at("change").get<double>(), factor - 1, 1e-9);
        EXPECT_DOUBLE_EQ(c.at("p").get<double>(), 2.0 / 252);  // 5 vs 5, fully separated
    }
    // The table names the cell, and only that cell, under the regressions.
    const auto section = r.out.substr(r.out.find("Significant regressions (1):"));
    const auto table = section.substr(0, section.find("Significant improvements"));
    EXPECT_NE(table.find(id), std::string::npos) << r.out;
    for (const auto& cell : run_.at("cells")) {
        if (cell.at("id") != id) {
            EXPECT_EQ(table.find(cell.at("id").get<std::string>()), std::string::npos) << r.out;
        }
    }
    EXPECT_NE(r.out.find("summary: regressions 1, improvements 0,"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("-> FAIL"), std::string::npos) << r.out;

    // The other way round, the same cell got faster: an improvement, and the gate passes.
    json reverse = compare_json({slower, run_folder()}, &r);
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(with_verdict(reverse, "improvement"), std::set<std::string>{id + " ns_per_op"});
    EXPECT_TRUE(with_verdict(reverse, "regression").empty());
}

TEST_F(Compare, ThroughputIsBetterHigher) {
    // Fewer operations per second is the regression; ns_per_op of the same copy is untouched.
    auto [id, factor] = plantable_cell();
    const std::string fewer = write("fewer.json", planted(run_, id, 1 / factor, "ops_per_sec"));
    child_outcome r;
    json comparison = compare_json({run_folder(), fewer, "--metric", "ns_per_op", "--metric", "ops_per_sec"}, &r);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_EQ(with_verdict(comparison, "regression"), std::set<std::string>{id + " ops_per_sec"});
    EXPECT_EQ(comparison.at("comparisons").size(), 2 * run_.at("cells").size());
}

TEST_F(Compare, IdenticalRunsPass) {
    const std::string copy = write("copy.json", run_);
    child_outcome r;
    json comparison = compare_json({run_folder(), copy}, &r);
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(comparison.at("counts").at("regression"), 0);
    EXPECT_EQ(comparison.at("counts").at("unchanged"), run_.at("cells").size());
    EXPECT_NE(r.out.find("Significant regressions: none"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("-> PASS"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("WARNING"), std::string::npos) << r.out;
    EXPECT_EQ(r.err, "");
}

TEST_F(Compare, ThreeRepetitionsAreTooFewToTest) {
    auto [id, factor] = plantable_cell();
    const json three = three_repetitions(run_);
    const std::string a = write("three.json", three), b = write("three-slower.json", planted(three, id, factor));
    child_outcome r;
    json comparison = compare_json({a, b}, &r);
    // Even the planted cell, every B value above every A value, reaches only p = 0.1.
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_NE(r.out.find("too few repetitions to test (n=3 vs 3; needs >= 4 per side for alpha 0.05"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("*** WARNING: no comparison could be tested"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("allocproof: warning: no comparison could be tested"), std::string::npos) << r.err;
    EXPECT_EQ(with_verdict(comparison, "untestable_change"), std::set<std::string>{id + " ns_per_op"});
    EXPECT_EQ(with_verdict(comparison, "untestable").size(), run_.at("cells").size() - 1);
    EXPECT_NE(r.out.find("Untestable changes beyond 5% (1)"), std::string::npos) << r.out;
    for (const auto& c : comparison.at("comparisons")) EXPECT_DOUBLE_EQ(c.at("min_p").get<double>(), 0.1);

    compare_json({a, b, "--fail-on-untestable"}, &r);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    // An untestable change for the better does not fail the gate.
    compare_json({b, a, "--fail-on-untestable"}, &r);
    EXPECT_EQ(r.exit_code, 0) << r.out;
    // A stricter alpha needs more repetitions.
    compare_json({a, b, "--alpha", "0.01"}, &r);
    EXPECT_NE(r.out.find("needs >= 5 per side for alpha 0.01"), std::string::npos) << r.out;
}

TEST_F(Compare, GzipCompressedResultsAreRead) {
    auto [id, factor] = plantable_cell();
    const std::string text = planted(run_, id, factor).dump();
    const std::string gz = (folder_ / "slower.json.gz").string();
    gzFile out = gzopen(gz.c_str(), "wb");
    ASSERT_NE(out, nullptr);
    ASSERT_EQ(gzwrite(out, text.data(), static_cast<unsigned>(text.size())), static_cast<int>(text.size()));
    ASSERT_EQ(gzclose(out), Z_OK);
    child_outcome r;
    json comparison = compare_json({run_folder(), gz}, &r);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(with_verdict(comparison, "regression"), std::set<std::string>{id + " ns_per_op"});

    // A folder holding only results.json.gz is read too.
    fs::create_directories(folder_ / "gz-run");
    fs::copy_file(gz, folder_ / "gz-run" / "results.json.gz", fs::copy_options::overwrite_existing);
    EXPECT_EQ(driver({"compare", run_folder(), (folder_ / "gz-run").string()}).exit_code, 1);

    // Cut short: an error, not a comparison of half a file.
    const auto size = fs::file_size(gz);
    fs::resize_file(gz, size / 2);
    expect_one_error_line(driver({"compare", run_folder(), gz}), "truncated gzip");
}

TEST_F(Compare, CellsAreMatchedByIdAndMachine) {
    // A: the run as machine 0 (no machine key, as `run` writes it) and again as machine 1.
    // B: machine 0 stated explicitly, and machine 1 with one cell slower; one cell of machine 0
    // missing, another failed.
    auto [id, factor] = plantable_cell();
    json a = run_, b = run_;
    json slower = planted(run_, id, factor);
    for (const auto& cell : run_.at("cells")) {
        json copy = cell;
        copy["machine"] = 1;
        a["cells"].push_back(copy);
    }
    for (auto& cell : b["cells"]) cell["machine"] = 0;
    for (const auto& cell : slower.at("cells")) {
        json copy = cell;
        copy["machine"] = 1;
        b["cells"].push_back(copy);
    }
    std::string missing, failed;
    for (auto it = b["cells"].begin(); it != b["cells"].end(); ++it) {
        if ((*it)["id"] != id && missing.empty()) {
            missing = (*it)["id"];
            b["cells"].erase(it);
            break;
        }
    }
    for (auto& cell : b["cells"]) {
        if (cell["id"] != id && cell["id"] != missing && cell["machine"] == 0) {
            failed = cell["id"];
            cell["status"] = "failed";
            break;
        }
    }
    child_outcome r;
    json comparison = compare_json({write("a-machines.json", a), write("b-machines.json", b)}, &r);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    std::vector<json> regressions;
    for (const auto& c : comparison.at("comparisons")) {
        if (c.at("verdict") == "regression") regressions.push_back(c);
    }
    ASSERT_EQ(regressions.size(), 1u) << r.out;
    EXPECT_EQ(regressions[0].at("id"), id);
    EXPECT_EQ(regressions[0].at("machine"), 1);
    EXPECT_NE(r.out.find(id + " @machine 1"), std::string::npos) << r.out;
    EXPECT_EQ(comparison.at("only_in_a"), json::array({{{"id", missing}, {"machine", 0}}}));
    EXPECT_TRUE(comparison.at("only_in_b").empty());
    ASSERT_EQ(comparison.at("not_ok").size(), 1u);
    EXPECT_EQ(comparison.at("not_ok")[0].at("id"), failed);
    EXPECT_EQ(comparison.at("not_ok")[0].at("status_b"), "failed");
    EXPECT_EQ(comparison.at("counts").at("matched_cells"), 2 * run_.at("cells").size() - 2);
    EXPECT_NE(r.out.find("Only in A, not compared (1): " + missing), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(failed + " @machine 0 (A ok, B failed)"), std::string::npos) << r.out;
}

TEST_F(Compare, BadInputIsRefused) {
    const std::string good = run_folder();
    expect_one_error_line(driver({"compare", good, (folder_ / "no-such").string()}), "does not exist");
    fs::create_directories(folder_ / "empty");
    expect_one_error_line(driver({"compare", (folder_ / "empty").string(), good}), "without results.json");
    std::ofstream(folder_ / "cut.json") << run_.dump().substr(0, 1000);
    expect_one_error_line(driver({"compare", good, (folder_ / "cut.json").string()}), "is not valid JSON");
    json future = run_;
    future["schema_version"] = 99;
    expect_one_error_line(driver({"compare", write("future.json", future), good}), "has schema_version 99");
    expect_one_error_line(driver({"compare", write("other.json", json{{"cells", json::array()}}), good}),
                          "not an allocproof results file");
    json twice = run_;
    twice["cells"].push_back(run_["cells"][0]);
    expect_one_error_line(driver({"compare", good, write("twice.json", twice)}), "repeats cell");
    json no_reps = run_;
    no_reps["cells"][0].erase("repetitions");
    expect_one_error_line(driver({"compare", good, write("no-reps.json", no_reps)}), "no repetitions array");
    expect_one_error_line(driver({"compare", good, good, "--metric", "speed"}), "unknown metric 'speed'");
    expect_one_error_line(driver({"compare", good, good, "--alpha", "0"}), "--alpha");
    expect_one_error_line(driver({"compare", good, good, "--threshold", "-0.1"}), "--threshold");
    expect_one_error_line(driver({"compare", good}), "B");
}

TEST_F(Compare, CellsRunWithOtherParametersAreNotCompared) {
    auto [id, factor] = plantable_cell();
    json other = planted(run_, id, factor);
    for (auto& cell : other["cells"]) {
        if (cell["id"] == id) cell["params"]["ops_per_thread"] = cell["params"]["ops_per_thread"].get<long long>() * 2;
    }
    child_outcome r;
    json comparison = compare_json({run_folder(), write("other-params.json", other)}, &r);
    EXPECT_EQ(r.exit_code, 0) << r.out;
    ASSERT_EQ(comparison.at("params_differ").size(), 1u);
    EXPECT_EQ(comparison.at("params_differ")[0].at("id"), id);
    EXPECT_EQ(comparison.at("counts").at("unchanged"), run_.at("cells").size() - 1);
    EXPECT_NE(r.out.find("with other parameters"), std::string::npos) << r.out;
}
