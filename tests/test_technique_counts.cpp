// What the strategies of the combined workloads really do, counted by the cell programs'
// operator new (this program links harness/counting_new.cpp):
//   * db_mix (L3-9): each of seed 003's techniques alone removes allocator calls from the mix,
//     and all_techniques on the tuned form removes more than any one of them, so the claim's one
//     ratio of totals is made of every technique, not of one;
//   * long_contexts (R4-5): the pool does reuse (far fewer calls than fresh contexts), and holds
//     more bytes at its peak than fresh contexts do, because idle contexts keep grown buffers.
#include "allocproof/cell.hpp"
#include "allocproof/registry.hpp"
#include "allocproof/alloc_counters.hpp"
#include "strategies/object_pool.hpp"
#include "workloads/db_mix.hpp"
#include "workloads/long_contexts.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>

using namespace allocproof;

namespace {

double calls_per_op(const std::string& workload, const std::string& strategy) {
    const cell_entry* cell = registry::instance().find_cell(workload, strategy);
    EXPECT_NE(cell, nullptr) << workload << " x " << strategy;
    if (cell == nullptr) return 0;
    cell_request r;
    r.workload = workload;
    r.strategy = strategy;
    r.params.scale = registry::instance().find_workload(workload)->test_scale;
    r.sample_every = 64;
    const cell_measurement m = cell->measure(r);
    return static_cast<double>(m.alloc_calls) / static_cast<double>(m.ops_per_thread);
}

struct run_counts {
    std::uint64_t calls = 0;
    std::int64_t held_peak = 0;  // bytes from the global allocator, most at once, from setup on
};

// Builds a worker on this thread and runs the test scale's operations, counting as it goes.
template <class Worker, class... Extra>
run_counts count_run(const workload_traits& traits, const Extra&... extra) {
    workload_params params;
    params.scale = traits.test_scale;
    const alloc_counts start = this_thread_alloc_counts();
    auto held = [&] {
        const alloc_counts now = this_thread_alloc_counts();
        return static_cast<std::int64_t>(now.bytes_requested - start.bytes_requested) -
               static_cast<std::int64_t>(now.bytes_released - start.bytes_released);
    };
    run_counts counts;
    Worker worker(params, 0, extra...);
    const std::uint64_t calls_before = this_thread_alloc_counts().allocations;
    for (std::uint64_t i = 0; i < params.scale.ops_per_thread; ++i) {
        worker.operation(i);
        counts.held_peak = std::max(counts.held_peak, held());
    }
    counts.calls = this_thread_alloc_counts().allocations - calls_before;
    worker.finish();
    return counts;
}

// The object pool the object_pool strategy serves, without its registration.
struct pooled {
    static constexpr strategy_traits traits{
        .name = "pooled", .summary = "", .origin = "", .provides_blocks = false, .provides_object_pool = true};
    template <class T>
    using object_pool = ::allocproof::object_pool<T>;
};

using plain = workloads::support::plain_way;

}  // namespace

TEST(TechniqueCounts, EachSeed003TechniqueAloneRemovesCallsFromTheMix) {
    const double baseline = calls_per_op("db_mix:plain", "std");
    const double combined = calls_per_op("db_mix:tuned", "all_techniques");
    ASSERT_GT(baseline, 0.0);
    for (const char* technique : {"small_vector", "shared_bytes", "arena"}) {
        const double alone = calls_per_op("db_mix:plain", technique);
        EXPECT_LT(alone, 0.99 * baseline) << technique;
        EXPECT_LT(combined, alone) << technique;
    }
    // The workload's own techniques, one at a time, the standard way for everything else.
    const auto& traits = workloads::db_mix::traits;
    using mix = workloads::db_mix::worker<plain>;
    const std::uint64_t none = count_run<mix>(traits, workloads::db_mix::techniques{false, false}).calls;
    const std::uint64_t reserved = count_run<mix>(traits, workloads::db_mix::techniques{true, false}).calls;
    const std::uint64_t interned = count_run<mix>(traits, workloads::db_mix::techniques{false, true}).calls;
    EXPECT_LT(reserved, none);
    EXPECT_LT(interned, none);
    // And the tuned form on all_techniques does better than its strategy on the plain form.
    EXPECT_LT(combined, calls_per_op("db_mix:plain", "all_techniques"));
}

TEST(TechniqueCounts, PooledLongContextsReuseYetHoldMore) {
    const auto& traits = workloads::long_contexts::traits;
    const run_counts pool = count_run<workloads::long_contexts::worker<pooled>>(traits);
    const run_counts fresh = count_run<workloads::long_contexts::worker<plain>>(traits);
    // Fresh: two calls per request (the context, its buffer); pooled: only a buffer that must grow.
    EXPECT_LT(2 * pool.calls, fresh.calls);
    EXPECT_GT(pool.held_peak, fresh.held_peak * 3 / 2);
}
