// context_pool's variants set the pool's reuse rate they are named for: the figure claim R4-2 is
// read against (allocator calls per op vs reuse rate) only means something if they do.
#include "strategies/object_pool.hpp"
#include "workloads/context_pool.hpp"

#include <gtest/gtest.h>

#include <string_view>

using namespace allocproof;
using workloads::context_pool;

namespace {

// The shared pool of strategies/object_pool.hpp, as object_pool_shared serves it: being
// thread-safe, the workload keeps it in its shared state, where the test can read its statistics.
struct counted_shared_pool {
    static constexpr strategy_traits traits{.name = "counted_shared_pool",
                                            .summary = "test",
                                            .origin = "test",
                                            .provides_blocks = false,
                                            .provides_object_pool = true,
                                            .thread_safe = true,
                                            .cross_thread_free = true};
    template <class T>
    using object_pool = shared_object_pool<T>;
};

unsigned variant_of(std::string_view variant_name) {
    unsigned variant = 0;
    while (context_pool::variant_names[variant] != variant_name) ++variant;
    return variant;
}

object_pool_stats pool_stats(std::string_view variant_name) {
    const unsigned variant = variant_of(variant_name);
    workload_params params;
    params.scale = {.ops_per_thread = 20'000, .working_set = 1'000, .warmup_ops = 0};
    params.threads = 1;
    params.variant = variant;
    context_pool::shared<counted_shared_pool> common(params);
    {
        context_pool::worker<counted_shared_pool> worker(params, 0, common);
        for (std::uint64_t i = 0; i < params.scale.ops_per_thread; ++i) worker.operation(i);
        worker.finish();
    }
    return common.pool()->stats();
}

double reuse_rate(std::string_view variant_name) { return pool_stats(variant_name).reuse_rate(); }

}  // namespace

TEST(ContextPool, VariantsSetTheReuseRate) {
    EXPECT_GT(reuse_rate("batch1"), 0.999);
    EXPECT_GT(reuse_rate("batch100"), 0.99);
    EXPECT_GT(reuse_rate("batch1000"), 0.94);  // the first batch is all creations
    EXPECT_NEAR(reuse_rate("reuse50"), 0.50, 0.01);
    EXPECT_NEAR(reuse_rate("reuse90"), 0.90, 0.01);
}

// Claim L3-3 reads reuse50 and reuse90 as pools whose cap is below the batch: objects past the
// cap are freed at release and made afresh, so the pool never holds the whole batch.
TEST(ContextPool, CappedVariantsFreeWhatIsPastTheCap) {
    for (std::string_view name : {"reuse50", "reuse90"}) {
        const context_pool::batching b = context_pool::batchings[variant_of(name)];
        EXPECT_LT(b.max_pooled, b.batch) << name;
        const object_pool_stats stats = pool_stats(name);
        EXPECT_EQ(stats.peak_pooled, b.max_pooled) << name;
        // Each batch releases `batch` contexts and the pool keeps max_pooled of them.
        EXPECT_NEAR(static_cast<double>(stats.discards) / static_cast<double>(stats.acquires),
                    1.0 - static_cast<double>(b.max_pooled) / static_cast<double>(b.batch), 0.01)
            << name;
    }
}
