// budget_pressure with budget_pools (claim P1-3), what the digest check cannot see: under a
// demand beyond the budget from several threads, the pool's usage never exceeds its limit while
// the run goes on (sampled by a thread of its own), requests are refused and counted, the 80%
// warning fires, every refusal is spilled and the logical work equals that of std, and the run
// completes.
#include "allocproof/cell.hpp"
#include "allocproof/registry.hpp"
#include "strategies/budget_pools.hpp"
#include "workloads/budget_pressure.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

using namespace allocproof;
using allocproof::strategies::budget_pools;
using allocproof::workloads::budget_pressure;

namespace {

struct run_result {
    std::uint64_t digest = 0;
    std::uint64_t refusals = 0;        // counted by the workers
    std::size_t max_sampled_used = 0;  // budget_pools only
    std::size_t samples = 0;
    budgets::pool_stats stats{};  // budget_pools only, after the run
};

// One wave and a half per thread: up to working_set blocks each, then down and up again.
workload_params pressure_params(unsigned threads) {
    workload_params params;
    params.scale = {.ops_per_thread = 45'000, .working_set = 28'000, .warmup_ops = 0};
    params.seed = 7;
    params.threads = threads;
    return params;
}

template <class S>
run_result run_workload(const workload_params& params) {
    budget_pressure::shared<S> common(params);
    std::vector<std::unique_ptr<budget_pressure::worker<S>>> workers;
    for (unsigned t = 0; t < params.threads; ++t) {
        workers.push_back(std::make_unique<budget_pressure::worker<S>>(params, t, common));
    }
    run_result result;
    std::atomic<unsigned> running{params.threads};
    std::thread sampler;
    if constexpr (std::is_same_v<S, budget_pools>) {
        sampler = std::thread([&] {
            const auto pool = common.strategy().serving_pool();
            while (running.load(std::memory_order_acquire) > 0) {
                const budgets::pool_stats now = common.strategy().statistics(pool);
                result.max_sampled_used = std::max(result.max_sampled_used, now.used_bytes);
                ++result.samples;
                std::this_thread::yield();
            }
        });
    }
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < params.threads; ++t) {
        threads.emplace_back([&, t] {
            for (std::uint64_t i = 0; i < params.scale.ops_per_thread; ++i) workers[t]->operation(i);
            running.fetch_sub(1, std::memory_order_release);
        });
    }
    for (auto& thread : threads) thread.join();
    if (sampler.joinable()) sampler.join();
    for (const auto& worker : workers) result.refusals += worker->refusals();
    if constexpr (std::is_same_v<S, budget_pools>) {
        result.stats = common.strategy().statistics(common.strategy().serving_pool());
    }
    for (const auto& worker : workers) result.digest = digest_fold(result.digest, worker->finish());
    return result;
}

}  // namespace

TEST(BudgetPressure, LimitHoldsRefusalsAndWarningsUnderDemandFromSeveralThreads) {
    for (unsigned threads : {1u, 2u, 4u}) {
        SCOPED_TRACE(::testing::Message() << threads << " threads");
        const workload_params params = pressure_params(threads);
        const run_result pooled = run_workload<budget_pools>(params);
        const budgets::pool_stats& s = pooled.stats;

        // The demand is beyond the budget: each thread alone wants more blocks than it holds.
        ASSERT_GT(params.scale.working_set * s.block_size, s.limit_bytes);
        EXPECT_EQ(s.name, "temp");
        EXPECT_GT(pooled.samples, 0u);
        EXPECT_LE(pooled.max_sampled_used, s.limit_bytes);
        EXPECT_LE(s.peak_bytes, s.limit_bytes);
        EXPECT_EQ(s.peak_bytes, s.limit_bytes) << "the pool was never filled";
        EXPECT_GT(s.refusals, 0u);
        EXPECT_EQ(pooled.refusals, s.refusals) << "every refusal spilled, none lost";
        EXPECT_GE(s.warnings, 1u);
        EXPECT_EQ(s.allocations, s.frees + s.live_blocks);

        // Spilled or not, the work is the same as with a strategy that serves everything.
        cell_request request;
        request.workload = "budget_pressure";
        request.strategy = "std";
        request.params = params;
        request.sample_every = 64;
        const cell_entry* plain = registry::instance().find_cell(request.workload, request.strategy);
        ASSERT_NE(plain, nullptr);
        EXPECT_EQ(pooled.digest, plain->measure(request).digest);
    }
}
