// Workloads compute the same digest whatever strategy serves them, and a strategy that returns
// overlapping memory is caught by the digest.
#include "allocproof/cell.hpp"
#include "allocproof/registry.hpp"
#include "harness/cell_runner.hpp"
#include "workloads/node_churn.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace allocproof;

namespace {

cell_request small_request(const std::string& strategy, unsigned threads, std::uint64_t seed = 42) {
    cell_request r;
    r.workload = "node_churn";
    r.strategy = strategy;
    r.params.scale = {.ops_per_thread = 20000, .working_set = 500, .warmup_ops = 1000};
    r.params.seed = seed;
    r.params.threads = threads;
    r.sample_every = 64;
    return r;
}

cell_measurement run(const cell_request& r) {
    const cell_entry* cell = registry::instance().find_cell(r.workload, r.strategy);
    EXPECT_NE(cell, nullptr);
    return cell->run(r);
}

// A test double that is fast because it is wrong: it hands out blocks from a ring too small for
// the live set, so live nodes share memory.
class overlapping_pool {
public:
    static constexpr strategy_traits traits{.name = "overlapping", .summary = "test double", .origin = "test"};
    explicit overlapping_pool(const block_spec& spec) : size_(spec.size), ring_(size_ * 64) {}
    void* allocate(std::size_t) {
        next_ = (next_ + 1) % 64;
        return ring_.data() + next_ * size_;
    }
    void deallocate(void*, std::size_t) {}

private:
    std::size_t size_;
    std::vector<std::uint64_t> ring_;  // 8-byte elements: aligned for the nodes' words
    std::size_t next_ = 0;
};

}  // namespace

TEST(WorkloadDigests, SameAcrossStrategies) {
    for (unsigned threads : {1u, 2u}) {
        auto baseline = run(small_request("std", threads));
        for (const auto& s : registry::instance().strategies()) {
            if (registry::instance().find_cell("node_churn", s.name) == nullptr) continue;
            EXPECT_EQ(run(small_request(std::string(s.name), threads)).digest, baseline.digest)
                << s.name << " at " << threads << " threads";
        }
    }
}

TEST(WorkloadDigests, DependOnTheSeedAndAreRepeatable) {
    auto a = run(small_request("std", 1, 1));
    auto b = run(small_request("std", 1, 2));
    auto a_again = run(small_request("std", 1, 1));
    EXPECT_NE(a.digest, b.digest);
    EXPECT_EQ(a.digest, a_again.digest);
}

TEST(WorkloadDigests, OverlappingMemoryChangesTheDigest) {
    auto request = small_request("overlapping", 1);
    auto wrong = run_cell<workloads::node_churn, overlapping_pool>(request);
    auto right = run(small_request("std", 1));
    EXPECT_NE(wrong.digest, right.digest);
}

TEST(WorkloadDigests, MeasurementIsComplete) {
    auto m = run(small_request("std", 2));
    EXPECT_EQ(m.threads, 2u);
    EXPECT_EQ(m.ops_per_thread, 20000u);
    EXPECT_GT(m.wall_ns, 0u);
    EXPECT_GT(m.cpu_ns, 0u);
    // Operations 0, 64, 128, ... of each thread are timed: ceil(20000 / 64) per thread.
    std::uint64_t samples = 0;
    for (auto b : m.latency_buckets) samples += b;
    EXPECT_EQ(samples, 2u * ((20000u + 63u) / 64u));
    EXPECT_GT(m.live_bytes_peak, 0u);
    EXPECT_GT(m.rss_before_setup_bytes, 0u);
}
