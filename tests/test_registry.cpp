// Every strategy and workload file in the tree is registered under its file's name, and the
// pairings follow the declared capabilities.
#include "allocproof/registry.hpp"

#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <set>
#include <string>

namespace fs = std::filesystem;
using allocproof::registry;

namespace {

std::set<std::string> stems_in(const char* folder, const char* extension) {
    std::set<std::string> stems;
    for (const auto& entry : fs::directory_iterator(fs::path(ALLOCPROOF_SOURCE_DIR) / folder)) {
        if (entry.path().extension() == extension) stems.insert(entry.path().stem().string());
    }
    return stems;
}

}  // namespace

TEST(Registry, EveryStrategyFileIsRegisteredUnderItsName) {
    auto files = stems_in("strategies", ".cpp");
    ASSERT_FALSE(files.empty());
    std::set<std::string> registered;
    for (const auto& s : registry::instance().strategies()) registered.emplace(s.name);
    EXPECT_EQ(files, registered);
}

TEST(Registry, EveryWorkloadFileIsRegisteredUnderItsName) {
    auto files = stems_in("workloads", ".hpp");
    ASSERT_FALSE(files.empty());
    std::set<std::string> registered;
    for (const auto& w : registry::instance().workloads()) {
        registered.emplace(w.name.substr(0, w.name.find(':')));  // a variant under its workload's name
    }
    EXPECT_EQ(files, registered);
}

TEST(Registry, NoNameIsRegisteredTwice) { EXPECT_TRUE(registry::instance().conflicts().empty()); }

TEST(Registry, BaselineComesFirst) {
    auto strategies = registry::instance().strategies();
    ASSERT_FALSE(strategies.empty());
    EXPECT_EQ(strategies.front().name, allocproof::baseline_strategy);
}

TEST(Registry, CellsFollowDeclaredCapabilities) {
    const auto& reg = registry::instance();
    EXPECT_NE(reg.find_cell("node_churn", "std"), nullptr);
    EXPECT_NE(reg.find_cell("node_churn", "fixed_pool"), nullptr);
    EXPECT_EQ(reg.find_cell("node_churn", "no_such_strategy"), nullptr);
    EXPECT_EQ(reg.find_cell("no_such_workload", "std"), nullptr);
    // Every workload can run the baseline: ratios to std exist everywhere.
    for (const auto& w : reg.workloads()) {
        EXPECT_NE(reg.find_cell(w.name, allocproof::baseline_strategy), nullptr) << w.name;
    }
}

TEST(Registry, LookupsByName) {
    const auto& reg = registry::instance();
    ASSERT_NE(reg.find_strategy("fixed_pool"), nullptr);
    EXPECT_TRUE(reg.find_strategy("fixed_pool")->fixed_size);
    EXPECT_FALSE(reg.find_strategy("fixed_pool")->thread_safe);
    ASSERT_NE(reg.find_workload("node_churn"), nullptr);
    EXPECT_EQ(reg.find_strategy("nope"), nullptr);
}

TEST(Registry, WorkloadVariantsAreNamedAfterTheirWorkload) {
    static constexpr std::array<std::string_view, 2> variants{"plain", "interned"};
    allocproof::workload_traits traits{.name = "strings_probe",
                                       .summary = "",
                                       .quick_scale = {},
                                       .default_scale = {},
                                       .test_scale = {},
                                       .families = "",
                                       .claims = "",
                                       .variants = variants};
    auto names = allocproof::registry::instance().workload_names(traits);
    ASSERT_EQ(names.size(), 2u);
    EXPECT_EQ(names[0], "strings_probe:plain");
    EXPECT_EQ(names[1], "strings_probe:interned");
    traits.variants = {};
    EXPECT_EQ(allocproof::registry::instance().workload_names(traits), std::vector<std::string_view>{"strings_probe"});
}
