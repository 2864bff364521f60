// query_temps with a strategy that refuses (as budget_pools does when a pool's limit is spent):
// each refused object goes to ::operator new, so the query's logical work and digest stay those
// of an unbounded allocator, the refusals are counted, and every temporary is gone when its query
// ends. The budget here is small enough that every query hits it; budget_pools' own limits (25-100
// MiB) are never reached at the workload's scales.
#include "workloads/query_temps.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <new>

using namespace allocproof;

namespace {

class refusing_blocks {
public:
    static constexpr strategy_traits traits{.name = "refusing_blocks",
                                            .summary = "test double",
                                            .origin = "test",
                                            .frees_individually = true,
                                            .may_refuse = true};
    static constexpr std::size_t limit_bytes = 16 << 10;

    explicit refusing_blocks(const block_spec&) {}
    void* allocate(std::size_t bytes) {
        if (used_ + bytes > limit_bytes) return nullptr;
        used_ += bytes;
        return ::operator new(bytes);
    }
    void deallocate(void* block, std::size_t bytes) {
        ASSERT_GE(used_, bytes);
        used_ -= bytes;
        ::operator delete(block, bytes);
    }

private:
    std::size_t used_ = 0;
};

struct outcome {
    std::uint64_t digest;
    std::uint64_t refusals;
};

template <class S>
outcome run_queries(std::uint64_t queries) {
    static_assert(workloads::query_temps::accepts<S>);
    workload_params params;
    params.scale = workloads::query_temps::traits.test_scale;
    workloads::query_temps::worker<S> worker(params, 0);
    // The table is live bytes too (P1-1 reads memory held minus live bytes): its rows at least.
    EXPECT_GE(worker.table_bytes(), params.scale.working_set * (2 * sizeof(std::uint64_t) + sizeof(std::string)));
    for (std::uint64_t i = 0; i < queries; ++i) {
        worker.operation(i);
        EXPECT_EQ(worker.live_bytes(), worker.table_bytes()) << "temporaries outlived query " << i;
    }
    return {worker.finish(), worker.refusals()};
}

}  // namespace

TEST(QueryTemps, RefusedObjectsFallBackWithTheSameResults) {
    const auto unbounded = run_queries<workloads::support::global_new_blocks>(40);
    const auto bounded = run_queries<refusing_blocks>(40);
    EXPECT_EQ(unbounded.refusals, 0u);
    EXPECT_GT(bounded.refusals, 0u);
    EXPECT_EQ(bounded.digest, unbounded.digest);
}
