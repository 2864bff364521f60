// The driver's catalogue of the build (harness/driver/matrix_catalogue.hpp): what a cell program's
// --describe says, read back; a malformed description, and a cell program that fails to give one,
// are one clear line; and the driver, which links no cell, refuses to work without one.
#include "harness/driver/exit_codes.hpp"
#include "harness/driver/matrix_catalogue.hpp"
#include "tests/driver_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using json = nlohmann::json;
using allocproof::driver::describe_build;
using allocproof::driver::matrix_catalogue;
using allocproof::driver::usage_error;
using allocproof::testing::expect_one_error_line;
using allocproof::testing::Scratch;

namespace {

json scale(std::uint64_t ops) { return {{"ops_per_thread", ops}, {"working_set", 10}, {"warmup_ops", 1}}; }

json strategy(const std::string& name, bool thread_safe) {
    return {{"name", name},
            {"summary", name + " summary"},
            {"origin", "test"},
            {"families", {"blocks"}},
            {"frees_individually", true},
            {"thread_safe", thread_safe},
            {"cross_thread_free", false},
            {"fixed_size", false},
            {"may_refuse", false},
            {"max_alignment", 64}};
}

json workload(const std::string& name) {
    return {{"name", name},
            {"summary", "churns"},
            {"families", "blocks"},
            {"claims", "C1 C2"},
            {"variants", json::array()},
            {"quick_scale", scale(100)},
            {"default_scale", scale(1000)},
            {"test_scale", scale(10)}};
}

json description() {
    return {{"schema", "allocproof-build/1"},
            {"abi_tag", "allocproof test"},
            {"workloads", {workload("node_churn"), workload("string_pool:plain")}},
            {"strategies", {strategy("std", true), strategy("arena", false)}},
            {"cells", {{"node_churn", {"std", "arena"}}, {"string_pool:plain", {"std"}}}},
            {"conflicts", json::array()},
            {"plugins",
             {{{"path", "/p/libx.so"}, {"name", "x"}, {"abi_tag", "allocproof test"}, {"strategies", {"arena"}}}}}};
}

std::string error_of(const json& described) {
    try {
        matrix_catalogue::from_description(described);
    } catch (const usage_error& error) {
        return error.what();
    }
    return "no error";
}

// A stand-in for a cell program: a shell script in `folder` named `name`.
fs::path script(const fs::path& folder, const std::string& name, const std::string& body) {
    fs::create_directories(folder);
    const fs::path path = folder / name;
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    fs::permissions(path, fs::perms::owner_all);
    return path;
}

std::string describe_error(const fs::path& program) {
    try {
        describe_build(program, {}, std::chrono::seconds(30));
    } catch (const usage_error& error) {
        return error.what();
    }
    return "no error";
}

}  // namespace

TEST(MatrixCatalogue, ReadsTraitsCellsConflictsAndPluginsFromADescription) {
    json described = description();
    described["conflicts"] = {"strategy arena"};
    matrix_catalogue c = matrix_catalogue::from_description(described);
    ASSERT_EQ(c.workloads().size(), 2u);
    EXPECT_EQ(c.workloads()[1].name, "string_pool:plain");
    EXPECT_EQ(c.workloads()[0].claims, "C1 C2");
    EXPECT_EQ(c.workloads()[0].default_scale.ops_per_thread, 1000u);
    EXPECT_EQ(c.workloads()[0].test_scale.ops_per_thread, 10u);
    ASSERT_EQ(c.strategies().size(), 2u);
    EXPECT_EQ(c.strategies()[0].name, "std") << "the cell program's order is kept";
    ASSERT_NE(c.find_strategy("arena"), nullptr);
    EXPECT_FALSE(c.find_strategy("arena")->thread_safe);
    EXPECT_EQ(c.find_strategy("arena")->max_alignment, 64u);
    EXPECT_EQ(c.find_strategy("missing"), nullptr);
    EXPECT_TRUE(c.has_cell("node_churn", "arena"));
    EXPECT_FALSE(c.has_cell("string_pool:plain", "arena")) << "arena declared it cannot serve it";
    EXPECT_EQ(c.strategies_serving("node_churn"), (std::vector<std::string>{"std", "arena"}));
    EXPECT_EQ(c.conflicts(), std::vector<std::string>{"strategy arena"});
    EXPECT_EQ(c.plugins().at(0).at("strategies"), json::array({"arena"}));
    // Moved, its traits still point into text it owns.
    const matrix_catalogue moved = std::move(c);
    EXPECT_EQ(moved.find_workload("node_churn")->summary, "churns");
}

TEST(MatrixCatalogue, AMalformedDescriptionIsOneLineSayingWhatIsWrong) {
    json no_cells = description();
    no_cells.erase("cells");
    EXPECT_NE(error_of(no_cells).find("the build's description is malformed"), std::string::npos);
    json other_schema = description();
    other_schema["schema"] = "allocproof-plugins/1";
    EXPECT_NE(error_of(other_schema).find("not of schema allocproof-build/1"), std::string::npos);
    json unknown_workload = description();
    unknown_workload["cells"]["btree"] = {"std"};
    EXPECT_NE(error_of(unknown_workload).find("unknown workload 'btree'"), std::string::npos);
    json unknown_strategy = description();
    unknown_strategy["cells"]["node_churn"].push_back("slab");
    EXPECT_NE(error_of(unknown_strategy).find("unknown strategy \"slab\""), std::string::npos);
    json wrong_type = description();
    wrong_type["strategies"][1]["thread_safe"] = "yes";
    EXPECT_NE(error_of(wrong_type).find("malformed"), std::string::npos);
    EXPECT_NE(error_of(json::array()).find("not of schema"), std::string::npos);
    for (const json& bad : {no_cells, other_schema, unknown_workload, unknown_strategy, wrong_type}) {
        EXPECT_EQ(error_of(bad).find('\n'), std::string::npos) << error_of(bad);
    }
}

TEST(MatrixCatalogue, TheGlibcCellProgramDescribesTheBuild) {
    const fs::path program = fs::path(ALLOCPROOF_DRIVER).parent_path() / "allocproof-cell-glibc";
    const matrix_catalogue c = describe_build(program, {}, std::chrono::seconds(60));
    EXPECT_TRUE(c.conflicts().empty());
    EXPECT_TRUE(c.plugins().empty());
    ASSERT_FALSE(c.strategies().empty());
    EXPECT_EQ(c.strategies().front().name, "std");
    EXPECT_TRUE(c.has_cell("node_churn", "std"));
    ASSERT_NE(c.find_workload("string_pool:plain"), nullptr) << "each variant is a workload of its own";
    EXPECT_EQ(c.find_workload("string_pool:plain")->variants.size(), 2u);
    const auto faulty = describe_build(program, {ALLOCPROOF_FAULTY_PLUGIN}, std::chrono::seconds(60));
    ASSERT_EQ(faulty.plugins().size(), 1u);
    EXPECT_NE(faulty.find_strategy("leaks"), nullptr);
    EXPECT_TRUE(faulty.has_cell("node_churn", "leaks"));
}

TEST(MatrixCatalogue, ACellProgramThatGivesNoDescriptionIsOneClearLine) {
    Scratch s;
    const std::map<std::string, std::string> expected = {
        {"kill -SEGV $$", "crashed while describing the build (SIGSEGV)"},
        {"echo oops >&2; exit 3", "exited with code 3 while describing the build, after writing \"oops\""},
        {"echo not a description", "with no description of the build, after printing \"not a description\""},
        {"echo '{\"abi_tag\":\"x\",\"schema\":\"allocproof-build/0\"}'", "in a form this driver does not read"},
        {"echo '{\"abi_tag\":\"x\",\"schema\":\"allocproof-build/1\"}'", "the build's description is malformed"},
    };
    int n = 0;
    for (const auto& [body, message] : expected) {
        SCOPED_TRACE(body);
        const fs::path program = script(s.path(), "cell" + std::to_string(n++), body);
        const std::string error = describe_error(program);
        EXPECT_NE(error.find("cell program " + program.string() + ": "), std::string::npos) << error;
        EXPECT_NE(error.find(message), std::string::npos) << error;
        EXPECT_EQ(error.find('\n'), std::string::npos) << error;
    }
    EXPECT_NE(describe_error(s.path() / "missing").find("cannot start"), std::string::npos);
}

// The driver copied to a folder of its own, beside stand-ins for its cell program.
TEST(MatrixCatalogue, TheDriverRefusesToWorkWithoutADescriptionOfTheBuild) {
    Scratch s;
    fs::create_directories(s.path());
    const fs::path driver = s.path() / "allocproof";
    fs::copy_file(ALLOCPROOF_DRIVER, driver);
    auto run = [&](const std::vector<std::string>& args) {
        std::vector<std::string> argv = {driver.string()};
        argv.insert(argv.end(), args.begin(), args.end());
        std::atomic<bool> never{false};
        return allocproof::driver::run_child(argv, std::chrono::seconds(60), never);
    };
    expect_one_error_line(run({"list"}), "no cell program (allocproof-cell-<allocator>) beside the driver");
    script(s.path(), "allocproof-cell-glibc", "kill -SEGV $$");
    expect_one_error_line(run({"list"}), "crashed while describing the build (SIGSEGV)");
    expect_one_error_line(run({"run", "--out", s.out()}), "crashed while describing the build (SIGSEGV)");
    EXPECT_FALSE(fs::exists(s.out()));
    json conflicted = description();
    conflicted["conflicts"] = {"strategy arena", "workload node_churn"};
    script(s.path(), "allocproof-cell-glibc", "cat <<'EOF'\n" + conflicted.dump() + "\nEOF");
    expect_one_error_line(run({"list"}), "registered twice: strategy arena, workload node_churn");
    conflicted["conflicts"] = json::array();
    script(s.path(), "allocproof-cell-glibc", "cat <<'EOF'\n" + conflicted.dump() + "\nEOF");
    const auto listed = run({"list", "--json"});
    ASSERT_EQ(listed.exit_code, 0) << listed.err;
    const json out = json::parse(listed.out);
    EXPECT_EQ(out.at("strategies").size(), 2u) << "the driver lists what the cell program described";
    EXPECT_EQ(out.at("workloads").at(0).at("strategies"), json::array({"std", "arena"}));
}
