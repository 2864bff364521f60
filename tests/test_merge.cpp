// End-to-end tests of `allocproof run --shard i/n` and `allocproof merge`: the shards of a small
// matrix partition it by whole digest groups, and merged they are the run as if run at once;
// runs of two machines merge side by side; bad input is refused and writes nothing.
#include "tests/driver_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using json = nlohmann::json;
using allocproof::testing::driver;
using allocproof::testing::expect_one_error_line;
using allocproof::testing::with;

namespace {

const std::vector<std::string> small_matrix = {"-w",        "node_churn,graph,btree",
                                               "-s",        "std,fixed_pool,small_vector",
                                               "-a",        "glibc",
                                               "--threads", "2,1",
                                               "--scale",   "test",
                                               "--reps",    "1"};

json read(const fs::path& folder) { return json::parse(std::ifstream(folder / "results.json")); }

std::map<std::string, json> by_id(const json& document) {
    std::map<std::string, json> cells;
    for (const auto& cell : document.at("cells")) cells[cell.at("id").get<std::string>()] = cell;
    return cells;
}

class Shards : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        folder_ = fs::temp_directory_path() / ("allocproof-merge-" + std::to_string(::getpid()));
        fs::remove_all(folder_);
        auto whole = driver(with({"run", "--out", (folder_ / "whole").string()}, small_matrix));
        ASSERT_EQ(whole.exit_code, 0) << whole.err;
        for (int i = 1; i <= 3; ++i) {
            auto part = driver(with({"run", "--shard", std::to_string(i) + "/3", "--out",
                                     (folder_ / ("shard" + std::to_string(i))).string()},
                                    small_matrix));
            ASSERT_EQ(part.exit_code, 0) << part.err;
        }
    }
    static void TearDownTestSuite() { fs::remove_all(folder_); }
    static fs::path folder_;
};
fs::path Shards::folder_;

TEST_F(Shards, PartitionTheMatrixByWholeGroups) {
    const auto whole = by_id(read(folder_ / "whole"));
    std::set<std::string> seen;
    std::map<std::string, int> shard_of_group;
    for (int i = 1; i <= 3; ++i) {
        const json part = read(folder_ / ("shard" + std::to_string(i)));
        EXPECT_EQ(part.at("plan").at("request").at("shard"), json({{"index", i}, {"count", 3}}));
        EXPECT_FALSE(part.at("cells").empty());
        for (const auto& cell : part.at("cells")) {
            const std::string id = cell.at("id");
            EXPECT_TRUE(whole.contains(id)) << id;
            EXPECT_TRUE(seen.insert(id).second) << id << " is in two shards";
            const std::string group =
                cell.at("workload").get<std::string>() + "/t" + std::to_string(cell.at("threads").get<int>());
            const auto [it, added] = shard_of_group.emplace(group, i);
            EXPECT_EQ(it->second, i) << group << " is split between shards";
        }
    }
    EXPECT_EQ(seen.size(), whole.size());
}

TEST_F(Shards, MergedAreTheRunAsIfRunAtOnce) {
    const fs::path out = folder_ / "merged";
    fs::remove_all(out);
    auto r = driver({"merge", (folder_ / "shard1").string(), (folder_ / "shard2").string(),
                     (folder_ / "shard3").string(), "--out", out.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json merged = read(out);
    EXPECT_EQ(merged.at("status"), "complete");
    EXPECT_EQ(merged.at("machines").size(), 1u);
    EXPECT_EQ(merged.at("merge").at("inputs").size(), 3u);
    EXPECT_TRUE(fs::exists(out / "summary.csv"));
    const auto whole = by_id(read(folder_ / "whole"));
    const auto cells = by_id(merged);
    ASSERT_EQ(cells.size(), whole.size());
    for (const auto& [id, cell] : whole) {
        ASSERT_TRUE(cells.contains(id)) << id;
        const json& m = cells.at(id);
        EXPECT_EQ(m.at("status"), cell.at("status")) << id;
        EXPECT_EQ(m.at("digest"), cell.at("digest")) << id;  // the same work, measured in another process
        EXPECT_EQ(m.at("machine"), 0);
        EXPECT_EQ(m.at("ratio_to_std").is_null(), cell.at("ratio_to_std").is_null()) << id;
    }
    // In the whole run's order: merge sorts by the key the plan is sorted by (cell_kind.hpp), even
    // for a --threads list out of order.
    std::vector<std::string> whole_order, merged_order;
    const json whole_document = read(folder_ / "whole");
    for (const auto& cell : whole_document.at("cells")) whole_order.push_back(cell.at("id"));
    for (const auto& cell : merged.at("cells")) merged_order.push_back(cell.at("id"));
    EXPECT_EQ(merged_order, whole_order);
    // The merged file is read like any run: compare finds every cell in both.
    auto compared = driver({"compare", (folder_ / "whole").string(), out.string()});
    EXPECT_EQ(compared.exit_code, 0) << compared.out << compared.err;
    EXPECT_NE(compared.out.find("only in A 0, only in B 0"), std::string::npos) << compared.out;
}

TEST_F(Shards, RunsOfTwoMachinesSitSideBySide) {
    json other = read(folder_ / "whole");
    other["environment"]["cpu_model"] = "Another CPU, 64 cores";
    other["environment"]["hostname"] = "elsewhere";
    const fs::path copy = folder_ / "other-machine";
    fs::create_directories(copy);
    std::ofstream(copy / "results.json") << other.dump();
    const fs::path out = folder_ / "two-machines";
    fs::remove_all(out);
    auto r = driver({"merge", (folder_ / "whole").string(), copy.string(), "--out", out.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json merged = read(out);
    ASSERT_EQ(merged.at("machines").size(), 2u);
    EXPECT_EQ(merged.at("machines")[1].at("cpu_model"), "Another CPU, 64 cores");
    std::map<int, std::set<std::string>> ids;
    for (const auto& cell : merged.at("cells")) ids[cell.at("machine").get<int>()].insert(cell.at("id"));
    EXPECT_EQ(ids[0], ids[1]);
    EXPECT_EQ(ids[0].size(), by_id(read(folder_ / "whole")).size());
    // summary.csv says which machine each line is from: its last column.
    std::ifstream csv(out / "summary.csv");
    std::string line;
    std::getline(csv, line);
    EXPECT_TRUE(line.ends_with(",machine")) << line;
    std::map<char, int> lines_of;
    while (std::getline(csv, line)) ++lines_of[line.back()];
    EXPECT_EQ(lines_of['0'], static_cast<int>(ids[0].size()));
    EXPECT_EQ(lines_of['1'], static_cast<int>(ids[1].size()));

    // The same machine twice is a duplicate: its cells cannot both be the measurement.
    auto twice = driver(
        {"merge", (folder_ / "whole").string(), (folder_ / "whole").string(), "--out", (folder_ / "twice").string()});
    expect_one_error_line(twice, "is in both");
    EXPECT_FALSE(fs::exists(folder_ / "twice" / "results.json"));
}

TEST_F(Shards, AGroupSplitBetweenInputsOrADifferentPlanIsRefused) {
    // Shard 1 of 3 and the whole run share groups on one machine but hold different cells of them.
    json part = read(folder_ / "shard1");
    json trimmed = part;
    trimmed["cells"] = json::array({part["cells"][0]});
    part["cells"].erase(part["cells"].begin());
    const fs::path a = folder_ / "half-a", b = folder_ / "half-b";
    fs::create_directories(a);
    fs::create_directories(b);
    std::ofstream(a / "results.json") << trimmed.dump();
    std::ofstream(b / "results.json") << part.dump();
    expect_one_error_line(driver({"merge", a.string(), b.string(), "--out", (folder_ / "split").string()}),
                          "are split between");
    json other = read(folder_ / "shard2");
    other["plan"]["request"]["seed"] = 7;
    const fs::path c = folder_ / "other-seed";
    fs::create_directories(c);
    std::ofstream(c / "results.json") << other.dump();
    expect_one_error_line(
        driver({"merge", (folder_ / "shard1").string(), c.string(), "--out", (folder_ / "plans").string()}),
        "planned differently");
    EXPECT_FALSE(fs::exists(folder_ / "plans"));
}

TEST(Merge, BadInputIsRefusedAndNothingWritten) {
    allocproof::testing::Scratch s;
    fs::create_directories(s.path() / "empty");
    fs::create_directories(s.path() / "broken");
    std::ofstream(s.path() / "broken" / "results.json") << "{\"tool\": \"allocproof\", \"schema_version\": 1, \"cel";
    const std::string out = (s.path() / "out").string();
    expect_one_error_line(driver({"merge", (s.path() / "missing").string(), "--out", out}), "does not exist");
    expect_one_error_line(driver({"merge", (s.path() / "empty").string(), "--out", out}), "without results.json");
    expect_one_error_line(driver({"merge", (s.path() / "broken").string(), "--out", out}), "not valid JSON");
    EXPECT_FALSE(fs::exists(out));
}

TEST(Shard, BadValuesAreRefused) {
    allocproof::testing::Scratch s;
    for (const std::string bad : {"0/3", "4/3", "3", "a/b", "1/0", "1/3/4", "-1/3", "1/"}) {
        expect_one_error_line(driver(with({"run", "--shard", bad, "--out", s.out()}, small_matrix)), "--shard");
    }
    // Shard 2 of a one-group matrix has nothing to run.
    expect_one_error_line(driver({"run", "-w", "node_churn", "-s", "std", "-a", "glibc", "--threads", "1", "--scale",
                                  "test", "--shard", "2/2", "--out", s.out()}),
                          "is empty");
    EXPECT_FALSE(fs::exists(s.out()));
}

}  // namespace
