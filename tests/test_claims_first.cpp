// End-to-end tests of `run --claims` (claims_plan.hpp): the cells a claims file needs run first,
// with its schedule of repetitions, and the rest of the matrix after them. No test asserts a
// duration or a verdict (the machine is noisy): they check the plan and the records.
#include "tests/driver_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <string>
#include <vector>

using json = nlohmann::json;
using allocproof::testing::driver;
using allocproof::testing::expect_one_error_line;
using allocproof::testing::Scratch;
using allocproof::testing::with;

namespace {

// One claim: fixed_pool against std on node_churn at one thread, judged with a short schedule.
std::string write_claims(const Scratch& s, const std::vector<unsigned>& schedule) {
    auto side = [](const char* strategy) {
        return json{{"workload", "node_churn"}, {"strategy", strategy}, {"threads", 1}};
    };
    json doc = {{"schema", "allocproof-claims/1"},
                {"sources", {{"t", "a test"}}},
                {"repetitions", {{"confidence", 0.95}, {"decide_confidence", 0.995}, {"schedule", schedule}}},
                {"claims",
                 {{{"id", "T-1"},
                   {"level", "workload"},
                   {"source", "t"},
                   {"quote", "q"},
                   {"claim", "c"},
                   {"measure", "m"},
                   {"metric", "ns_per_op"},
                   {"effect", "speedup"},
                   {"claimed", {{"low", 1.05}, {"high", nullptr}}},
                   {"comparisons",
                    {{{"label", "node_churn t1"}, {"candidate", side("fixed_pool")}, {"baseline", side("std")}}}}}}}};
    std::filesystem::create_directories(s.path());
    const auto file = (s.path() / "claims.json").string();
    std::ofstream(file) << doc.dump();
    return file;
}

const std::vector<std::string> matrix = {"run",
                                         "--workloads",
                                         "node_churn",
                                         "--strategies",
                                         "std,fixed_pool,mutex_pool",
                                         "--allocators",
                                         "glibc",
                                         "--threads",
                                         "1",
                                         "--scale",
                                         "test",
                                         "--reps",
                                         "2"};

std::map<std::string, const json*> by_strategy(const json& results) {
    std::map<std::string, const json*> cells;
    for (const auto& c : results.at("cells")) cells[c.at("strategy").get<std::string>()] = &c;
    return cells;
}

}  // namespace

TEST(ClaimsFirst, TheClaimsCellsRunFirstWithTheirScheduleAndTheRestAfter) {
    Scratch s;
    const auto claims = write_claims(s, {4, 6});
    auto r = driver(with(matrix, {"--claims", claims, "--out", s.out()}));
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    EXPECT_NE(r.out.find("claims first: 2 of 3 cells, 4 repetitions each, up to 6"), std::string::npos) << r.out;
    const json results = s.results();
    auto cells = by_strategy(results);
    ASSERT_EQ(cells.size(), 3u);
    std::size_t last_claim_order = 0, first_breadth_order = SIZE_MAX;
    for (const char* strategy : {"std", "fixed_pool"}) {
        const auto& reps = cells[strategy]->at("repetitions");
        EXPECT_TRUE(reps.size() == 4 || reps.size() == 6) << strategy << " ran " << reps.size();
        for (const auto& rep : reps) last_claim_order = std::max(last_claim_order, rep.at("order").get<std::size_t>());
    }
    const auto& breadth = cells["mutex_pool"]->at("repetitions");
    EXPECT_EQ(breadth.size(), 2u);  // --reps
    for (const auto& rep : breadth)
        first_breadth_order = std::min(first_breadth_order, rep.at("order").get<std::size_t>());
    EXPECT_LT(last_claim_order, first_breadth_order);  // the breadth follows every claim round
    // Whatever rounds ran are in the plan, so that --resume replans them.
    const json& extra = results.at("plan").value("extra_reps", json::object());
    for (const auto& [id, reps] : extra.items()) {
        const auto& cell = *std::find_if(results["cells"].begin(), results["cells"].end(),
                                         [&](const json& c) { return c["id"] == id; });
        EXPECT_EQ(cell.at("repetitions").size(), reps.get<std::size_t>()) << id;
    }
    EXPECT_EQ(results.at("plan").at("request").at("claims").at("file"), claims);
}

TEST(ClaimsFirst, ClaimsOnlyLeavesTheOtherCellsOut) {
    Scratch s;
    const auto claims = write_claims(s, {3});
    auto r = driver(with(matrix, {"--claims", claims, "--claims-only", "--out", s.out()}));
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    const json results = s.results();
    auto cells = by_strategy(results);
    EXPECT_EQ(cells.size(), 2u);
    EXPECT_FALSE(cells.contains("mutex_pool"));
    for (const auto& [strategy, cell] : cells) EXPECT_EQ(cell->at("repetitions").size(), 3u) << strategy;
}

TEST(ClaimsFirst, ClaimsRepsIsOneRoundOfThatMany) {
    Scratch s;
    const auto claims = write_claims(s, {4, 6, 8});
    auto r = driver(with(matrix, {"--claims", claims, "--claims-only", "--claims-reps", "2", "--out", s.out()}));
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    const json results = s.results();
    for (const auto& [strategy, cell] : by_strategy(results)) {
        EXPECT_EQ(cell->at("repetitions").size(), 2u) << strategy;
    }
    EXPECT_EQ(r.out.find("adaptive round"), std::string::npos) << r.out;
}

TEST(ClaimsFirst, BadClaimsInputIsOneLine) {
    Scratch s;
    std::filesystem::create_directories(s.path());
    const auto bad = (s.path() / "bad.json").string();
    std::ofstream(bad) << "{\"claims\": 3}";
    expect_one_error_line(driver(with(matrix, {"--claims", bad, "--out", s.out()})), "is not a claims file");
    std::ofstream(bad) << R"({"claims": [], "repetitions": {"schedule": [5, 3]}})";
    expect_one_error_line(driver(with(matrix, {"--claims", bad, "--out", s.out()})), "increasing whole numbers");
    expect_one_error_line(driver(with(matrix, {"--claims-only", "--out", s.out()})), "need --claims");
    EXPECT_FALSE(std::filesystem::exists(s.path() / "run" / "results.json"));
}

// The breadth follows with what the budget leaves: --reps a cell when it fits, as few as 3 when the
// claims took the budget, and the count chosen is in the plan (a resumed run keeps it).
TEST(ClaimsFirst, TheBreadthShrinksToThreeRepetitionsWhenTheBudgetIsSpent) {
    for (const auto& [budget, expected] :
         std::vector<std::pair<std::string, unsigned>>{{"0.001", 3u}, {"100000", 5u}}) {
        Scratch s;
        const auto claims = write_claims(s, {4});
        std::vector<std::string> five_reps(matrix.begin(), matrix.end() - 1);
        five_reps.push_back("5");  // matrix ends with --reps 2
        auto r = driver(with(five_reps, {"--claims", claims, "--budget", budget, "--out", s.out()}));
        ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
        const json results = s.results();
        EXPECT_EQ(results.at("plan").at("breadth_reps"), expected) << budget;
        auto cells = by_strategy(results);
        EXPECT_EQ(cells["mutex_pool"]->at("repetitions").size(), expected) << budget;
        EXPECT_EQ(cells["std"]->at("repetitions").size(), 4u) << budget;  // the claims' schedule is kept
        EXPECT_EQ(r.out.find("gets 3 repetitions a cell, not 5") != std::string::npos, expected == 3u) << r.out;
    }
}

// --resume keeps the breadth's count the run had chosen (plan.breadth_reps) and runs no further
// round: here a finished run is made to lack its breadth cell's repetitions, with a stored count
// that differs from --reps, as a run stopped during its breadth would have it.
TEST(ClaimsFirst, ResumeKeepsTheBreadthsChosenCount) {
    Scratch s;
    const auto claims = write_claims(s, {4});
    std::vector<std::string> five_reps(matrix.begin(), matrix.end() - 1);
    five_reps.push_back("5");
    ASSERT_EQ(driver(with(five_reps, {"--claims", claims, "--budget", "100000", "--out", s.out()})).exit_code, 0);
    json results = s.results();
    results["plan"]["breadth_reps"] = 4;
    for (auto& cell : results["cells"]) {
        if (cell["strategy"] == "mutex_pool") cell["repetitions"] = json::array();
    }
    results["status"] = "interrupted";
    std::ofstream(s.path() / "run" / "results.json") << results.dump();
    auto resumed = driver({"run", "--resume", "--out", s.out()});
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err << resumed.out;
    EXPECT_EQ(resumed.out.find("adaptive round"), std::string::npos) << resumed.out;
    const json after = s.results();
    auto cells = by_strategy(after);
    EXPECT_EQ(cells["mutex_pool"]->at("repetitions").size(), 4u);
    EXPECT_EQ(cells["mutex_pool"]->at("reps_planned"), 4);
    EXPECT_EQ(cells["std"]->at("repetitions").size(), 4u);
}
