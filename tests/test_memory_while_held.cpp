// Memory read while it is held (results/SCHEMA.md, memory_peak_held_bytes): a strategy that holds
// 64 MiB for a moment inside an operation shows it in the peak of the measured phase and in its
// own accounting, not in the memory left at the end; std on the same operations shows neither.
// Sizes, not times, are asserted.
#include "tests/driver_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <string>

using json = nlohmann::json;
using allocproof::testing::driver;
using allocproof::testing::Scratch;

TEST(MemoryWhileHeld, APeakFreedWithinAnOperationIsSeen) {
    // A sanitizer's allocator keeps freed memory in quarantine, so nothing would fall back.
    if (std::string(ALLOCPROOF_SANITIZE).size() > 0) GTEST_SKIP() << "freed memory is quarantined";
    Scratch s;
    auto r = driver({"run", "--workloads", "node_churn", "--strategies", "std,transient_hoard", "--plugin",
                     ALLOCPROOF_TRANSIENT_HOARD_PLUGIN, "--allocators", "glibc", "--threads", "1", "--scale", "test",
                     "--reps", "2", "--out", s.out()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json results = json::parse(std::ifstream(s.out() + "/results.json"));
    std::map<std::string, json> metrics;
    for (const auto& c : results.at("cells")) metrics[c.at("strategy")] = c.at("metrics");
    auto median = [&](const std::string& strategy, const char* metric) {
        return metrics.at(strategy).at(metric).at("median").get<double>();
    };
    constexpr double mib = 1 << 20;
    EXPECT_GE(median("transient_hoard", "memory_peak_held_bytes"), 60 * mib);
    EXPECT_GE(median("transient_hoard", "global_bytes_held_peak"), 64 * mib);
    EXPECT_GE(median("transient_hoard", "memory_overhead_bytes"), 56 * mib);
    EXPECT_LT(median("transient_hoard", "memory_held_bytes"), 16 * mib);  // gone by the end
    EXPECT_LT(median("std", "memory_peak_held_bytes"), 16 * mib);
    EXPECT_LT(median("std", "global_bytes_held_peak"), 16 * mib);
    // node_churn's live set is its nodes: what std holds from the global allocator is about that.
    EXPECT_GE(median("std", "global_bytes_held_peak"), median("std", "live_bytes_peak"));
}
