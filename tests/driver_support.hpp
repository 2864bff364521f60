// Running the driver binary from the end-to-end tests (test_cli.cpp, test_external.cpp).
#pragma once

#include "harness/driver/child_process.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace allocproof::testing {

inline constexpr double mib = 1024.0 * 1024.0;

inline allocproof::driver::child_outcome driver(std::vector<std::string> args, int timeout_seconds = 300) {
    args.insert(args.begin(), ALLOCPROOF_DRIVER);
    std::atomic<bool> never{false};
    return allocproof::driver::run_child(args, std::chrono::seconds(timeout_seconds), never);
}

inline std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// A folder of its own for one test, removed afterwards; out() is where a run writes.
class Scratch {
public:
    Scratch() {
        path_ =
            std::filesystem::temp_directory_path() / ("allocproof-test-" + std::to_string(::getpid()) + "-" +
                                                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(path_);
    }
    ~Scratch() { std::filesystem::remove_all(path_); }
    std::string out() const { return (path_ / "run").string(); }
    std::filesystem::path path() const { return path_; }
    nlohmann::json results() const {
        std::ifstream in(path_ / "run" / "results.json");
        return nlohmann::json::parse(in);
    }

private:
    std::filesystem::path path_;
};

// Bad input: exit code 2 and exactly one line on stderr, which holds `fragment`.
inline void expect_one_error_line(const allocproof::driver::child_outcome& r, const std::string& fragment) {
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("allocproof: error:"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

// The global allocators this build has cell programs for.
inline std::set<std::string> built_allocators() {
    std::set<std::string> names;
    std::stringstream list(ALLOCPROOF_ALLOCATOR_LIST);
    std::string name;
    while (std::getline(list, name, ',')) names.insert(name);
    return names;
}

}  // namespace allocproof::testing
