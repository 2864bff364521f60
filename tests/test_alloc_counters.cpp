// The counting operator new/delete against known sequences. This test program links the same
// replacement operators as the cell programs (harness/counting_new.cpp).
#include "allocproof/registry.hpp"
#include "allocproof/alloc_counters.hpp"
#include "strategies/pmr_monotonic.hpp"
#include "strategies/tracking.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <new>
#include <random>
#include <thread>
#include <vector>

using allocproof::alloc_counts;
using allocproof::this_thread_alloc_counts;

namespace {

alloc_counts since(const alloc_counts& before) {
    auto now = this_thread_alloc_counts();
    return {now.allocations - before.allocations, now.deallocations - before.deallocations,
            now.bytes_requested - before.bytes_requested};
}

// Keeps the optimiser from removing a new/delete pair (it may, since C++14).
void* volatile sink;

}  // namespace

TEST(AllocCounters, CountsEveryFormOfNewAndDelete) {
    auto before = this_thread_alloc_counts();
    void* a = ::operator new(24);
    sink = a;
    void* b = ::operator new[](100);
    sink = b;
    void* c = ::operator new (64, std::align_val_t{64});
    sink = c;
    void* d = ::operator new(8, std::nothrow);
    sink = d;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(c) % 64, 0u);
    auto mid = since(before);
    EXPECT_EQ(mid.allocations, 4u);
    EXPECT_EQ(mid.deallocations, 0u);
    EXPECT_EQ(mid.bytes_requested, 24u + 100u + 64u + 8u);

    ::operator delete(a, 24);
    ::operator delete[](b);
    ::operator delete (c, std::align_val_t{64});
    ::operator delete(d, std::nothrow);
    auto end = since(before);
    EXPECT_EQ(end.allocations, 4u);
    EXPECT_EQ(end.deallocations, 4u);
}

TEST(AllocCounters, DeletingNullIsNotACall) {
    auto before = this_thread_alloc_counts();
    ::operator delete(static_cast<void*>(nullptr));
    EXPECT_EQ(since(before).deallocations, 0u);
}

TEST(AllocCounters, ContainersAreCountedThroughOperatorNew) {
    auto before = this_thread_alloc_counts();
    {
        std::vector<int> v;
        v.reserve(10);  // exactly one allocation of 40 bytes
        v.push_back(1);
        sink = v.data();
    }
    auto counted = since(before);
    EXPECT_EQ(counted.allocations, 1u);
    EXPECT_EQ(counted.deallocations, 1u);
    EXPECT_EQ(counted.bytes_requested, 10 * sizeof(int));
}

TEST(AllocCounters, CountingCanBeSwitchedOff) {
    allocproof::set_alloc_counting(false);
    auto before = this_thread_alloc_counts();
    void* p = ::operator new(32);
    sink = p;
    ::operator delete(p);
    auto counted = since(before);
    allocproof::set_alloc_counting(true);
    EXPECT_EQ(counted.allocations, 0u);
    EXPECT_EQ(counted.deallocations, 0u);
}

TEST(AllocCounters, EachThreadCountsOnlyItsOwnCalls) {
    auto before = this_thread_alloc_counts();
    alloc_counts worker{};
    std::thread t([&] {
        auto start = this_thread_alloc_counts();
        for (int i = 0; i < 1000; ++i) {
            void* p = ::operator new(16);
            sink = p;
            ::operator delete(p);
        }
        auto now = this_thread_alloc_counts();
        worker = {now.allocations - start.allocations, now.deallocations - start.deallocations,
                  now.bytes_requested - start.bytes_requested};
    });
    t.join();
    EXPECT_EQ(worker.allocations, 1000u);
    EXPECT_EQ(worker.deallocations, 1000u);
    EXPECT_EQ(worker.bytes_requested, 16000u);
    // The main thread's own counters saw nothing of the worker's calls (std::thread's own state
    // is allocated here, on the main thread: one allocation at most, freed by join).
    EXPECT_LE(since(before).allocations, 1u);
}

// ---- tracked<> against this program's counting operator new (claims G0-5 and R4-4) -------------
// The tracking strategy and the harness count the same calls at two layers: the strategy's own
// counters, and global operator new/delete. On global operator new every block is one call, so
// the two must agree exactly, call for call and byte for byte.

namespace {

using snapshot_source = std::function<allocproof::strategies::tracking_snapshot()>;

template <class Strategy>
void expect_tracker_matches_counting_new(Strategy& strategy, snapshot_source snapshot) {
    std::mt19937_64 random(11);
    std::vector<std::pair<void*, std::size_t>> live;
    live.reserve(4096);  // no allocation of our own between the two readings
    const auto tracked_before = snapshot();
    const auto counted_before = this_thread_alloc_counts();
    for (int i = 0; i < 20000; ++i) {
        if (live.size() < 4000 && (live.empty() || random() % 3 != 0)) {
            std::size_t size = 1 + random() % 4096;
            live.emplace_back(strategy.allocate(size), size);
        } else {
            std::size_t k = random() % live.size();
            std::swap(live[k], live.back());
            strategy.deallocate(live.back().first, live.back().second);
            live.pop_back();
        }
    }
    for (auto& [block, size] : live) strategy.deallocate(block, size);
    const auto counted = since(counted_before);
    const auto tracked = allocproof::strategies::diff(tracked_before, snapshot());
    EXPECT_GT(counted.allocations, 10000u);
    EXPECT_EQ(tracked.allocations, counted.allocations);
    EXPECT_EQ(tracked.deallocations, counted.deallocations);
    EXPECT_EQ(tracked.bytes_requested, counted.bytes_requested);
    EXPECT_EQ(tracked.bytes_released, counted.bytes_requested) << "everything was given back";
    EXPECT_EQ(tracked.live_bytes, 0);
}

}  // namespace

TEST(TrackedAgainstCountingNew, CountsEqualGroundTruth) {
    allocproof::strategies::tracked<allocproof::strategies::global_new_blocks> tracker(allocproof::block_spec{64, 16});
    expect_tracker_matches_counting_new(tracker, [&] { return tracker.snapshot(); });
}

TEST(TrackedAgainstCountingNew, TheRegisteredTrackingStrategyAddsNoCallOfItsOwn) {
    // Through the registry, as the conformance tests use it: the counts still match, so tracking
    // allocates nothing per call beyond the block itself.
    auto strategy = allocproof::registry::instance().make_strategy("tracking", {64, 16});
    ASSERT_NE(strategy, nullptr);
    // What the caller passes in, counted here, must be exactly what reaches operator new.
    allocproof::strategies::tracking_snapshot passed;
    struct counting_view {
        allocproof::erased_strategy& inner;
        allocproof::strategies::tracking_snapshot& passed;
        void* allocate(std::size_t n) {
            ++passed.allocations;
            passed.bytes_requested += n;
            return inner.allocate(n);
        }
        void deallocate(void* p, std::size_t n) {
            ++passed.deallocations;
            passed.bytes_released += n;
            inner.deallocate(p, n);
        }
    } view{*strategy, passed};
    expect_tracker_matches_counting_new(view, [&] { return passed; });
}

// ---- the peers take their memory from global operator new ------------------------------------

TEST(PeersAgainstCountingNew, BoostPoolGrowsBy32Then64ChunksPlusItsFooter) {
    auto pool = allocproof::registry::instance().make_strategy("boost_pool", {64, 16});
    ASSERT_NE(pool, nullptr);
    std::vector<void*> blocks;
    blocks.reserve(100);
    auto before = this_thread_alloc_counts();
    blocks.push_back(pool->allocate(64));
    auto first = since(before);
    EXPECT_EQ(first.allocations, 1u);
    EXPECT_EQ(first.bytes_requested, 32u * 64 + 16);  // Boost's footer: next pointer and size
    for (int i = 1; i < 32; ++i) blocks.push_back(pool->allocate(64));
    EXPECT_EQ(since(before).allocations, 1u);
    blocks.push_back(pool->allocate(64));
    auto second = since(before);
    EXPECT_EQ(second.allocations, 2u);
    EXPECT_EQ(second.bytes_requested, 32u * 64 + 16 + 64u * 64 + 16);
    for (void* p : blocks) pool->deallocate(p, 64);
    EXPECT_EQ(since(before).deallocations, 0u) << "freed chunks stay in the pool";
    pool.reset();  // destroys the instance, itself one block of the registry's (erased) wrapper
    EXPECT_EQ(since(before).deallocations, 2u + 1) << "the pool gives its blocks back when destroyed";
}

TEST(PeersAgainstCountingNew, BoostFastPoolTakesBlocksAndNeverGivesThemBack) {
    // A size class no other test in this program uses, so the singleton starts empty here.
    auto pool = allocproof::registry::instance().make_strategy("boost_fast_pool", {6000, 16});
    ASSERT_NE(pool, nullptr);
    auto before = this_thread_alloc_counts();
    void* block = pool->allocate(6000);
    auto first = since(before);
    EXPECT_EQ(first.allocations, 1u);
    EXPECT_EQ(first.bytes_requested, 32u * 6144 + 16);
    pool->deallocate(block, 6000);
    pool.reset();  // destroys the instance, itself one block of the registry's (erased) wrapper
    EXPECT_EQ(since(before).deallocations, 1u) << "a singleton_pool lives until the process exits";
}

TEST(PeersAgainstCountingNew, PmrMonotonicResetReturnsEveryBufferAndGrowsAgain) {
    allocproof::strategies::pmr_monotonic arena(allocproof::block_spec{64, 16});
    std::uint64_t per_cycle[3]{};
    for (auto& calls : per_cycle) {
        auto before = this_thread_alloc_counts();
        for (int i = 0; i < 10000; ++i) sink = arena.allocate(64);
        calls = since(before).allocations;
        arena.reset();
        EXPECT_EQ(since(before).deallocations, calls) << "release() gives every buffer back";
    }
    EXPECT_GT(per_cycle[0], 10u) << "buffers grow 1.5x from 1 KiB";
    EXPECT_LT(per_cycle[0], 20u);
    EXPECT_EQ(per_cycle[1], per_cycle[0]) << "and restart from 1 KiB after each release";
    EXPECT_EQ(per_cycle[2], per_cycle[0]);
}

TEST(PeersAgainstCountingNew, PmrPoolsReturnEverythingWhenDestroyed) {
    for (const char* name : {"pmr_unsync_pool", "pmr_sync_pool"}) {
        SCOPED_TRACE(name);
        auto before = this_thread_alloc_counts();
        {
            auto pool = allocproof::registry::instance().make_strategy(name, {64, 16});
            ASSERT_NE(pool, nullptr);
            std::vector<void*> blocks(5000);
            for (auto& p : blocks) p = pool->allocate(64);
            for (void* p : blocks) pool->deallocate(p, 64);
            auto held = since(before);
            EXPECT_GT(held.allocations, held.deallocations) << "chunks are kept after the frees";
        }
        auto after = since(before);
        EXPECT_EQ(after.allocations, after.deallocations);
    }
}
