// The workloads of seed 003's techniques together (db_mix, claim L3-9) and of long-lived contexts
// of varied size (long_contexts, R4-5): every strategy that serves them computes the baseline's
// digest in every variant and at two threads, and the strategies their claims compare are among
// those served. (WorkloadDigests checks every workload in its first form; the claims read both
// forms of db_mix, and all_techniques is new.)
#include "allocproof/cell.hpp"
#include "allocproof/registry.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace allocproof;

namespace {

cell_measurement run(const std::string& workload, const std::string& strategy, unsigned threads) {
    const cell_entry* cell = registry::instance().find_cell(workload, strategy);
    EXPECT_NE(cell, nullptr) << workload << " x " << strategy;
    if (cell == nullptr) return {};
    const workload_traits& w = *registry::instance().find_workload(workload);
    cell_request r;
    r.workload = workload;
    r.strategy = strategy;
    r.params.scale = w.test_scale;
    r.params.threads = threads;
    r.sample_every = 64;
    return cell->measure(r);
}

void expect_same_digests(const std::string& workload, const std::vector<std::string>& must_serve) {
    std::vector<std::string> serving;
    for (const auto& s : registry::instance().strategies()) {
        if (registry::instance().find_cell(workload, s.name) != nullptr) serving.emplace_back(s.name);
    }
    for (const auto& name : must_serve) {
        EXPECT_NE(std::find(serving.begin(), serving.end(), name), serving.end()) << workload << " x " << name;
    }
    for (unsigned threads : {1u, 2u}) {
        const std::uint64_t baseline = run(workload, "std", threads).digest;
        for (const auto& s : serving) {
            EXPECT_EQ(run(workload, s, threads).digest, baseline) << workload << " x " << s << " at " << threads;
        }
    }
}

}  // namespace

TEST(CombinedWorkloads, DbMixDigestsAgreeInBothForms) {
    const std::vector<std::string> seed_003{"std", "small_vector", "shared_bytes", "arena", "all_techniques"};
    expect_same_digests("db_mix:plain", seed_003);
    expect_same_digests("db_mix:tuned", seed_003);
}

TEST(CombinedWorkloads, DbMixPairsOnlyWithTheBaselineAndSeed003Techniques) {
    // Every blocks strategy would otherwise run the whole mix, for no claim.
    EXPECT_EQ(registry::instance().find_cell("db_mix:plain", "fixed_pool"), nullptr);
    EXPECT_EQ(registry::instance().find_cell("db_mix:plain", "boost_small_vector"), nullptr);
}

TEST(CombinedWorkloads, LongContextsDigestsAgree) {
    expect_same_digests("long_contexts", {"std", "object_pool", "object_pool_shared", "boost_object_pool"});
}
