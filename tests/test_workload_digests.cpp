// Every workload computes the same digest whatever strategy serves it, the digest depends on the
// seed, and a strategy that hands out memory still in use (a test double per family: blocks,
// object pool, buffers, vector) changes it: the check the driver makes on every cell can fail.
// Two subtler blocks doubles (a block nested inside a live larger one; blocks overlapping their
// live neighbour by 16 bytes) must be caught by every workload that takes blocks: its digest
// differs, or its cell fails.
#include "allocproof/cell.hpp"
#include "allocproof/generated_workloads.hpp"
#include "allocproof/registry.hpp"
#include "allocproof/cell_runner.hpp"
#include "tests/overlapping_doubles.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

using namespace allocproof;

namespace {

cell_request test_request(const workload_traits& w, const std::string& strategy, unsigned threads,
                          std::uint64_t seed = 42) {
    cell_request r;
    r.workload = std::string(w.name);
    r.strategy = strategy;
    r.params.scale = w.test_scale;
    r.params.seed = seed;
    r.params.threads = threads;
    r.sample_every = 64;
    return r;
}

cell_measurement run(const cell_request& r) {
    const cell_entry* cell = registry::instance().find_cell(r.workload, r.strategy);
    EXPECT_NE(cell, nullptr) << r.workload << " x " << r.strategy;
    return cell->measure(r);
}

std::vector<std::string> strategies_serving(std::string_view workload) {
    std::vector<std::string> names;
    for (const auto& s : registry::instance().strategies()) {
        if (registry::instance().find_cell(workload, s.name) != nullptr) names.emplace_back(s.name);
    }
    return names;
}

// Runs workload W with every test double that can serve it; returns how many could.
// A workload with variants is checked in each of them ("<name>:<variant>", params.variant set).
// The first test double (in the order of the list) that workload W accepts, or void. One per
// workload: a double that corrupts a structure the workload navigates (the B-tree's child
// lists in the vector double's shared storage) would crash it instead of changing its digest.
template <class W, class... Doubles>
struct first_accepted {
    using type = void;
};
template <class W, class D, class... Rest>
struct first_accepted<W, D, Rest...> {
    using type = std::conditional_t<W::template accepts<D>, D, typename first_accepted<W, Rest...>::type>;
};

// Runs workload W with the first test double that can serve it, in every variant; false when no
// double can serve it. The double must change the digest of at least one form of the workload:
// a variant with a single live object at a time (context_pool:batch1) cannot show overlap.
template <class W, class... Doubles>
bool digest_caught_by_a_double(type_list<Doubles...>) {
    using double_type = typename first_accepted<W, Doubles...>::type;
    if constexpr (std::is_void_v<double_type>) {
        return false;
    } else {
        bool caught = false;
        unsigned variant = 0;
        for (std::string_view name : registry::instance().workload_names(W::traits)) {
            auto request = [&](const std::string& strategy) {
                cell_request r = test_request(W::traits, strategy, 1);
                r.workload = std::string(name);
                r.params.variant = variant;
                return r;
            };
            caught = caught || run_cell<W, double_type>(request("double")).digest != run(request("std")).digest;
            ++variant;
        }
        EXPECT_TRUE(caught) << W::traits.name << " does not notice " << double_type::traits.name;
        return true;
    }
}

template <class... Ws>
void check_every_workload_catches_overlap(type_list<Ws...>) {
    using doubles = type_list<test_doubles::overlapping_blocks, test_doubles::overlapping_objects,
                              test_doubles::overlapping_buffers, test_doubles::overlapping_vector>;
    (
        [] {
            EXPECT_TRUE(digest_caught_by_a_double<Ws>(doubles{}))
                << Ws::traits.name << " accepts no test double, so nothing shows its digest can fail";
        }(),
        ...);
}

// Runs `digest_differs` in a child process and says how it ended: the wrong strategy is caught
// when its digest differs from std's or when the child did not come back with a digest at all (a
// crash, a hang ended by the alarm, or run_cell's exit when a worker threw), which the driver
// records as a failed cell. A child for every case: a block nested in or overlapping another
// corrupts what the workload navigates (links, lengths, vectors' pointers), and run_cell itself
// ends the process when a worker fails, which would take the test binary with it.
constexpr int digest_matched_std = 42;
constexpr unsigned child_seconds = 10;  // a cell at the test scale takes milliseconds
constexpr std::string_view missed = "digest matches std's";

template <class DigestDiffers>
std::string outcome_in_child(DigestDiffers digest_differs) {
    std::fflush(nullptr);
    const pid_t child = fork();
    if (child < 0) {
        ADD_FAILURE() << "fork failed";
        return std::string(missed);
    }
    if (child == 0) {
        alarm(child_seconds);
        _exit(digest_differs() ? 0 : digest_matched_std);
    }
    int status = 0;
    if (waitpid(child, &status, 0) != child) {
        ADD_FAILURE() << "waitpid failed";
        return std::string(missed);
    }
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
    if (WEXITSTATUS(status) == digest_matched_std) return std::string(missed);
    if (WEXITSTATUS(status) == 0) return "digest differs";
    return "exit code " + std::to_string(WEXITSTATUS(status));
}

// Every form of every workload that accepts the blocks double D must catch it.
template <class D, class... Ws>
void check_every_blocks_workload_catches(type_list<Ws...>) {
    unsigned checked = 0;
    (
        [&] {
            if constexpr (Ws::template accepts<D>) {
                ++checked;
                unsigned variant = 0;
                for (std::string_view name : registry::instance().workload_names(Ws::traits)) {
                    cell_request request = test_request(Ws::traits, "std", 1);
                    request.workload = std::string(name);
                    request.params.variant = variant++;
                    const std::uint64_t right = run(request).digest;
                    request.strategy = "double";
                    const std::string outcome =
                        outcome_in_child([&] { return run_cell<Ws, D>(request).digest != right; });
                    // How each form caught it, in the XML report (--gtest_output=xml).
                    ::testing::Test::RecordProperty(std::string(name), outcome);
                    EXPECT_NE(outcome, missed) << name << " does not notice " << D::traits.name;
                }
            }
        }(),
        ...);
    EXPECT_GT(checked, 0u) << D::traits.name << " serves no workload";
}

}  // namespace

TEST(WorkloadDigests, SameAcrossStrategiesForEveryWorkload) {
    for (const auto& w : registry::instance().workloads()) {
        auto serving = strategies_serving(w.name);
        EXPECT_GE(serving.size(), 3u) << w.name << ": fewer than three strategies to compare";
        for (unsigned threads : {1u, 2u}) {
            auto baseline = run(test_request(w, "std", threads));
            for (const auto& s : serving) {
                EXPECT_EQ(run(test_request(w, s, threads)).digest, baseline.digest)
                    << w.name << " x " << s << " at " << threads << " threads";
            }
        }
    }
}

TEST(WorkloadDigests, DependOnTheSeedAndAreRepeatable) {
    for (const auto& w : registry::instance().workloads()) {
        auto a = run(test_request(w, "std", 1, 1));
        auto b = run(test_request(w, "std", 1, 2));
        auto a_again = run(test_request(w, "std", 1, 1));
        EXPECT_NE(a.digest, b.digest) << w.name;
        EXPECT_EQ(a.digest, a_again.digest) << w.name;
    }
}

TEST(WorkloadDigests, MemoryStillInUseChangesTheDigest) {
    check_every_workload_catches_overlap(generated::all_workloads{});
}

// A block placed inside a live, larger block: the host's bytes change in its interior, where a
// digest that samples a few words (or only the ends) does not look.
TEST(WorkloadDigests, BlockNestedInsideALiveBlockChangesTheDigest) {
    check_every_blocks_workload_catches<test_doubles::interior_nesting_blocks>(generated::all_workloads{});
}

// A block overlapping its live neighbour's last 16 bytes.
TEST(WorkloadDigests, BlockOverlappingItsNeighbourBySixteenBytesChangesTheDigest) {
    check_every_blocks_workload_catches<test_doubles::neighbour_overlapping_blocks>(generated::all_workloads{});
}

TEST(WorkloadDigests, MeasurementIsComplete) {
    const workload_traits& w = *registry::instance().find_workload("node_churn");
    auto m = run(test_request(w, "std", 2));
    EXPECT_EQ(m.threads, 2u);
    EXPECT_EQ(m.ops_per_thread, w.test_scale.ops_per_thread);
    EXPECT_GT(m.wall_ns, 0u);
    EXPECT_GT(m.cpu_ns, 0u);
    // Operations 0, 64, 128, ... of each thread are timed.
    std::uint64_t samples = 0;
    for (auto b : m.latency_buckets) samples += b;
    EXPECT_EQ(samples, 2u * ((w.test_scale.ops_per_thread + 63u) / 64u));
    EXPECT_GT(m.live_bytes_peak, 0u);
    EXPECT_GT(m.rss_before_setup_bytes, 0u);
    // The memory timeline: one reading per chunk, ending when every operation was done.
    ASSERT_EQ(m.timeline.size(), 32u);
    EXPECT_EQ(m.timeline.back().ops_done, w.test_scale.ops_per_thread);
    for (std::size_t i = 1; i < m.timeline.size(); ++i) {
        EXPECT_GT(m.timeline[i].ops_done, m.timeline[i - 1].ops_done);
        EXPECT_GE(m.timeline[i].elapsed_ns, m.timeline[i - 1].elapsed_ns);
        EXPECT_GT(m.timeline[i].rss_bytes, 0u);
    }
}

TEST(WorkloadDigests, DirtyHeapLeavesTheDigestAlone) {
    const workload_traits& w = *registry::instance().find_workload("node_churn");
    auto fresh = run(test_request(w, "std", 2));
    auto request = test_request(w, "std", 2);
    request.dirty_heap_bytes = 4 << 20;
    auto dirty = run(request);
    EXPECT_EQ(dirty.digest, fresh.digest);
    // How much of the dirt stays resident is checked in a fresh cell process (test_cli.cpp): in
    // this process earlier tests leave free memory in the heap that the dirt may reuse.
}
