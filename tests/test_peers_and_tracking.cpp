// The peers (Boost.Pool and std::pmr strategies) free and reuse as their headers say, and tracked<S>
// counts exactly. The conformance suite (test_strategy_conformance.cpp) already checks every peer
// for overlap, alignment, contents and reuse; these tests check what is particular to each one.
// The comparison of tracked<> counts with the harness's own counting operator new is in
// test_alloc_counters.cpp, the program that links it.
#include "allocproof/registry.hpp"
#include "strategies/pmr_monotonic.hpp"
#include "strategies/tracking.hpp"

#include <gtest/gtest.h>

#include <boost/version.hpp>

#include <algorithm>
#include <barrier>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using allocproof::block_spec;
using allocproof::registry;
using allocproof::strategies::diff;
using allocproof::strategies::global_new_blocks;
using allocproof::strategies::pmr_monotonic;
using allocproof::strategies::tracked;
using allocproof::strategies::tracking_snapshot;

namespace {

auto make(const char* name, block_spec spec) {
    auto strategy = registry::instance().make_strategy(name, spec);
    if (strategy == nullptr) throw std::runtime_error(std::string("no strategy ") + name);
    return strategy;
}

std::uintptr_t address_number(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

// Fills blocks with a canary per block, checks them later.
struct canary_block {
    unsigned char* data;
    std::size_t size;
    unsigned char value;
    void fill() const { std::memset(data, value, size); }
    bool intact() const {
        return std::all_of(data, data + size, [&](unsigned char c) { return c == value; });
    }
};

}  // namespace

// ---- what each peer declares ---------------------------------------------------------------------

TEST(Peers, TraitsSayWhatEachPeerIs) {
    const auto& reg = registry::instance();
    const std::string boost = "Boost.Pool " BOOST_LIB_VERSION;
    const std::string libstdcxx = "libstdc++ " + std::to_string(_GLIBCXX_RELEASE);

    const auto* pool = reg.find_strategy("boost_pool");
    ASSERT_NE(pool, nullptr);
    EXPECT_TRUE(pool->fixed_size && pool->frees_individually && !pool->thread_safe);
    EXPECT_EQ(std::string(pool->origin).rfind(boost, 0), 0u) << pool->origin;

    const auto* fast = reg.find_strategy("boost_fast_pool");
    ASSERT_NE(fast, nullptr);
    EXPECT_TRUE(fast->fixed_size && fast->thread_safe && fast->cross_thread_free);
    EXPECT_EQ(std::string(fast->origin).rfind(boost, 0), 0u) << fast->origin;

    const auto* mono = reg.find_strategy("pmr_monotonic");
    ASSERT_NE(mono, nullptr);
    EXPECT_TRUE(!mono->frees_individually && !mono->thread_safe && !mono->fixed_size);
    EXPECT_EQ(std::string(mono->origin).rfind(libstdcxx, 0), 0u) << mono->origin;

    const auto* unsync = reg.find_strategy("pmr_unsync_pool");
    ASSERT_NE(unsync, nullptr);
    EXPECT_TRUE(unsync->frees_individually && !unsync->thread_safe && !unsync->fixed_size);
    EXPECT_EQ(std::string(unsync->origin).rfind(libstdcxx, 0), 0u) << unsync->origin;

    const auto* sync = reg.find_strategy("pmr_sync_pool");
    ASSERT_NE(sync, nullptr);
    EXPECT_TRUE(sync->frees_individually && sync->thread_safe && sync->cross_thread_free);
    EXPECT_EQ(std::string(sync->origin).rfind(libstdcxx, 0), 0u) << sync->origin;

    const auto* track = reg.find_strategy("tracking");
    ASSERT_NE(track, nullptr);
    EXPECT_TRUE(track->frees_individually && track->thread_safe && track->cross_thread_free);
    EXPECT_FALSE(track->provides_vector || track->provides_object_pool || track->provides_buffers);
}

// ---- boost_pool ----------------------------------------------------------------------------------

TEST(BoostPool, FreedChunksAreReusedLastInFirstOut) {
    auto pool = make("boost_pool", {64, 16});
    void* a = pool->allocate(64);
    void* b = pool->allocate(64);
    pool->deallocate(a, 64);
    pool->deallocate(b, 64);
    EXPECT_EQ(pool->allocate(64), b);
    EXPECT_EQ(pool->allocate(64), a);
    pool->deallocate(a, 64);
    pool->deallocate(b, 64);
}

TEST(BoostPool, FirstBlockHolds32ChunksRoundedToTheAlignment) {
    // 24 bytes at 16-byte alignment: chunks of 32 bytes, 32 of them side by side in the first block.
    auto pool = make("boost_pool", {24, 16});
    std::vector<void*> blocks;
    for (int i = 0; i < 33; ++i) blocks.push_back(pool->allocate(24));
    for (int i = 1; i < 32; ++i) {
        EXPECT_EQ(address_number(blocks[i]) - address_number(blocks[i - 1]), 32u) << "chunk " << i;
    }
    // The 33rd comes from a second block: not right after the 32nd, where Boost keeps its footer.
    EXPECT_NE(address_number(blocks[32]), address_number(blocks[31]) + 32);
    for (void* p : blocks) pool->deallocate(p, 24);
}

// ---- boost_fast_pool -----------------------------------------------------------------------------

TEST(BoostFastPool, InstancesOfOneSizeClassShareTheSingletonPool) {
    // 100 B and 112 B both round to the 112 B class: one singleton_pool, as for
    // fast_pool_allocator<T> of every T with the same sizeof.
    auto first = make("boost_fast_pool", {100, 16});
    auto second = make("boost_fast_pool", {112, 16});
    void* block = first->allocate(100);
    first->deallocate(block, 100);
    EXPECT_EQ(second->allocate(112), block) << "a chunk freed through one instance is the next "
                                               "one handed out through another";
    second->deallocate(block, 112);

    // Another size class is another pool.
    auto other = make("boost_fast_pool", {64, 16});
    void* b64 = other->allocate(64);
    void* b112 = first->allocate(100);
    EXPECT_EQ(b112, block);
    EXPECT_NE(b64, block);
    other->deallocate(b64, 64);
    first->deallocate(b112, 100);
}

TEST(BoostFastPool, SizesAboveTheLargestClassAreRefusedAtConstruction) {
    EXPECT_NO_THROW(make("boost_fast_pool", {65536, 16}));
    EXPECT_THROW(make("boost_fast_pool", {65537, 16}), std::invalid_argument);
}

TEST(BoostFastPool, ABlockFreedOnAnotherThreadIsReused) {
    auto pool = make("boost_fast_pool", {48, 16});
    std::vector<void*> blocks(100);
    std::thread producer([&] {
        for (auto& p : blocks) {
            p = pool->allocate(48);
            std::memset(p, 0x5a, 48);
        }
    });
    producer.join();
    for (void* p : blocks) pool->deallocate(p, 48);
    // Last in, first out, across threads: the singleton has one free list.
    EXPECT_EQ(pool->allocate(48), blocks.back());
    pool->deallocate(blocks.back(), 48);
}

// ---- the thread-safe peers under two threads ---------------------------------------------------

class SharedByTwoThreads : public ::testing::TestWithParam<std::string> {};

// Two threads share one instance: each allocates, fills, checks and frees at random, and hands
// some of its blocks to the other thread to free (cross-thread free). Canaries catch a block handed
// out twice; under ThreadSanitizer, a race inside the strategy.
TEST_P(SharedByTwoThreads, BlocksStayIntactAndCrossThreadFreesWork) {
    auto strategy = make(GetParam().c_str(), {64, 16});
    constexpr int rounds = 20;
    constexpr int per_round = 500;
    std::vector<canary_block> handoff[2];
    std::barrier sync(2);
    std::atomic<int> failures{0};
    auto worker = [&](int me) {
        std::mt19937 random(static_cast<unsigned>(me + 1));
        for (int round = 0; round < rounds; ++round) {
            std::vector<canary_block> live;
            for (int i = 0; i < per_round; ++i) {
                auto* p = static_cast<unsigned char*>(strategy->allocate(64));
                live.push_back({p, 64, static_cast<unsigned char>(random() | 1)});
                live.back().fill();
                if (random() % 4 == 0) {  // free one of ours at random
                    std::swap(live[random() % live.size()], live.back());
                    if (!live.back().intact()) ++failures;
                    strategy->deallocate(live.back().data, 64);
                    live.pop_back();
                }
            }
            // Half of the survivors go to the other thread.
            for (std::size_t i = 0; i < live.size(); i += 2) handoff[me].push_back(live[i]);
            sync.arrive_and_wait();
            for (const auto& b : handoff[1 - me]) {
                if (!b.intact()) ++failures;
                strategy->deallocate(b.data, b.size);
            }
            for (std::size_t i = 1; i < live.size(); i += 2) {
                if (!live[i].intact()) ++failures;
                strategy->deallocate(live[i].data, 64);
            }
            sync.arrive_and_wait();
            handoff[me].clear();
        }
    };
    std::thread other(worker, 1);
    worker(0);
    other.join();
    EXPECT_EQ(failures.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(Peers, SharedByTwoThreads, ::testing::Values("boost_fast_pool", "pmr_sync_pool", "tracking"),
                         [](const auto& instance) { return instance.param; });

// ---- pmr_unsync_pool -----------------------------------------------------------------------------

TEST(PmrUnsyncPool, ReusesTheLowestFreeBlockNotTheLastFreed) {
    auto pool = make("pmr_unsync_pool", {64, 16});
    std::vector<void*> blocks;
    for (int i = 0; i < 5; ++i) blocks.push_back(pool->allocate(64));
    // One chunk, handed out in address order.
    for (int i = 1; i < 5; ++i) EXPECT_EQ(address_number(blocks[i]) - address_number(blocks[i - 1]), 64u);
    pool->deallocate(blocks[1], 64);
    pool->deallocate(blocks[3], 64);
    // A last-in first-out free list would give blocks[3] first; the bitmap gives the lowest.
    EXPECT_EQ(pool->allocate(64), blocks[1]);
    EXPECT_EQ(pool->allocate(64), blocks[3]);
    for (void* p : blocks) pool->deallocate(p, 64);
}

TEST(PmrUnsyncPool, OneInstanceServesEverySizeIncludingUnpooledOnes) {
    // Not a fixed-size strategy: pools up to 4 KiB, larger blocks straight from upstream.
    auto pool = make("pmr_unsync_pool", {64, 16});
    std::mt19937 random(7);
    std::vector<canary_block> live;
    for (std::size_t size : {8u, 64u, 200u, 1000u, 4096u, 5000u, 8192u, 100000u}) {
        for (int i = 0; i < 50; ++i) {
            auto* p = static_cast<unsigned char*>(pool->allocate(size));
            ASSERT_EQ(address_number(p) % 16, 0u);
            live.push_back({p, size, static_cast<unsigned char>(random() | 1)});
            live.back().fill();
        }
    }
    std::shuffle(live.begin(), live.end(), random);
    for (const auto& b : live) {
        ASSERT_TRUE(b.intact());
        pool->deallocate(b.data, b.size);
    }
}

// ---- pmr_sync_pool -------------------------------------------------------------------------------

TEST(PmrSyncPool, ABlockFreedByAnotherThreadGoesBackToItsAllocatorsPool) {
    auto pool = make("pmr_sync_pool", {64, 16});
    void* first = nullptr;
    void* again = nullptr;
    std::barrier step(2);
    std::thread owner([&] {
        first = pool->allocate(64);
        step.arrive_and_wait();  // main frees `first`
        step.arrive_and_wait();
        again = pool->allocate(64);
    });
    step.arrive_and_wait();
    pool->deallocate(first, 64);
    step.arrive_and_wait();
    owner.join();
    EXPECT_EQ(again, first) << "libstdc++ returns a foreign free to the owner thread's pool";
    pool->deallocate(again, 64);
}

TEST(PmrSyncPool, ChunksOfAnExitedThreadAreNotReused) {
    // libstdc++: an exiting thread's chunks that still hold live blocks become "orphaned": freeing
    // their blocks works, but no thread allocates from them again until release or destruction.
    auto pool = make("pmr_sync_pool", {64, 16});
    std::vector<void*> orphaned(10);
    std::thread([&] {
        for (auto& p : orphaned) p = pool->allocate(64);
    }).join();
    for (void* p : orphaned) pool->deallocate(p, 64);
    std::vector<void*> fresh(10);
    for (auto& p : fresh) p = pool->allocate(64);
    for (void* p : fresh) {
        EXPECT_EQ(std::find(orphaned.begin(), orphaned.end(), p), orphaned.end());
    }
    for (void* p : fresh) pool->deallocate(p, 64);
}

// ---- pmr_monotonic -------------------------------------------------------------------------------

TEST(PmrMonotonic, DeallocateDoesNotReuseAndBlocksAreBumpedInOrder) {
    pmr_monotonic arena(block_spec{64, 16});
    void* a = arena.allocate(64);
    arena.deallocate(a, 64);  // a no-op
    void* b = arena.allocate(64);
    EXPECT_EQ(address_number(b), address_number(a) + 64) << "bump allocation, the freed block is not reused";
    void* c = arena.allocate(8);
    void* d = arena.allocate(8);
    EXPECT_EQ(address_number(c), address_number(b) + 64);
    EXPECT_EQ(address_number(d), address_number(c) + 16) << "each block aligned to the instance's 16 bytes";
}

TEST(PmrMonotonic, ResetReleasesAndTheArenaServesAgain) {
    pmr_monotonic arena(block_spec{256, 16});
    for (int cycle = 0; cycle < 3; ++cycle) {
        std::vector<canary_block> live;
        for (int i = 0; i < 3000; ++i) {
            auto* p = static_cast<unsigned char*>(arena.allocate(256));
            live.push_back({p, 256, static_cast<unsigned char>(i | 1)});
            live.back().fill();
        }
        for (const auto& b : live) ASSERT_TRUE(b.intact()) << "cycle " << cycle;
        arena.reset();
    }
}

// ---- tracked<S> ----------------------------------------------------------------------------------

namespace {

// A fixed_pool-like single-thread pool (free list over blocks from operator new), to decorate.
class toy_pool {
public:
    static constexpr allocproof::strategy_traits traits{
        .name = "toy_pool",
        .summary = "test pool",
        .origin = "test",
        .frees_individually = true,
        .thread_safe = false,
        .fixed_size = true,
    };
    explicit toy_pool(const block_spec& spec) : size_(spec.size) {}
    toy_pool(const toy_pool&) = delete;
    ~toy_pool() {
        for (void* p : free_) ::operator delete(p);
    }
    void* allocate(std::size_t) {
        if (free_.empty()) return ::operator new(size_);
        void* p = free_.back();
        free_.pop_back();
        return p;
    }
    void deallocate(void* p, std::size_t) { free_.push_back(p); }

private:
    std::size_t size_;
    std::vector<void*> free_;
};

void expect_counts(const tracking_snapshot& s, std::uint64_t allocations, std::uint64_t deallocations,
                   std::uint64_t requested, std::uint64_t live, std::uint64_t peak) {
    EXPECT_EQ(s.allocations, allocations);
    EXPECT_EQ(s.deallocations, deallocations);
    EXPECT_EQ(s.bytes_requested, requested);
    EXPECT_EQ(s.live_bytes, live);
    EXPECT_EQ(s.bytes_released, requested - live);
    EXPECT_EQ(s.peak_live_bytes, peak);
}

}  // namespace

TEST(Tracked, CountersArePlainForASingleThreadStrategyAndAtomicForAThreadSafeOne) {
    static_assert(!tracked<toy_pool>::atomic_counters);
    static_assert(tracked<global_new_blocks>::atomic_counters);
    static_assert(!tracked<toy_pool>::traits.thread_safe);
    static_assert(tracked<global_new_blocks>::traits.cross_thread_free);
    static_assert(tracked<toy_pool>::traits.fixed_size);
    static_assert(allocproof::resettable<tracked<pmr_monotonic>>);
    static_assert(!allocproof::resettable<tracked<toy_pool>>);
    SUCCEED();
}

template <class S>
void known_sequence() {
    tracked<S> t(block_spec{128, 16});
    expect_counts(t.snapshot(), 0, 0, 0, 0, 0);
    void* a = t.allocate(64);
    void* b = t.allocate(64);
    void* c = t.allocate(64);
    expect_counts(t.snapshot(), 3, 0, 192, 192, 192);
    t.deallocate(b, 64);
    expect_counts(t.snapshot(), 3, 1, 192, 128, 192);
    void* d = t.allocate(128);
    expect_counts(t.snapshot(), 4, 1, 320, 256, 256);
    t.deallocate(a, 64);
    t.deallocate(c, 64);
    t.deallocate(d, 128);
    expect_counts(t.snapshot(), 4, 4, 320, 0, 256);
}

TEST(Tracked, ExactCountsOnAKnownSequenceOverAPool) { known_sequence<toy_pool>(); }
TEST(Tracked, ExactCountsOnAKnownSequenceOverGlobalNew) { known_sequence<global_new_blocks>(); }

TEST(Tracked, TheDecoratedPoolStillReusesItsBlocks) {
    tracked<toy_pool> t(block_spec{64, 16});
    void* a = t.allocate(64);
    t.deallocate(a, 64);
    EXPECT_EQ(t.allocate(64), a);
    t.deallocate(a, 64);
}

TEST(Tracked, ResetGivesBackEveryLiveByte) {
    tracked<pmr_monotonic> t(block_spec{64, 16});
    for (int i = 0; i < 100; ++i) t.allocate(64);
    t.deallocate(t.allocate(32), 32);
    expect_counts(t.snapshot(), 101, 1, 6432, 6400, 6432);
    t.reset();
    expect_counts(t.snapshot(), 101, 1, 6432, 0, 6432);
    t.allocate(16);
    expect_counts(t.snapshot(), 102, 1, 6448, 16, 6432);
}

TEST(Tracked, SnapshotDiffIsWhatHappenedBetween) {
    tracked<global_new_blocks> t(block_spec{64, 16});
    std::vector<void*> early;
    for (int i = 0; i < 10; ++i) early.push_back(t.allocate(100));
    const auto before = t.snapshot();
    for (int i = 0; i < 3; ++i) t.deallocate(early[i], 100);
    void* late = t.allocate(1000);
    const auto after = t.snapshot();
    const auto d = diff(before, after);
    EXPECT_EQ(d.allocations, 1u);
    EXPECT_EQ(d.deallocations, 3u);
    EXPECT_EQ(d.bytes_requested, 1000u);
    EXPECT_EQ(d.bytes_released, 300u);
    EXPECT_EQ(d.live_bytes, 700);
    EXPECT_EQ(d.peak_rise, 700u);  // 1000 live before, 1700 after
    EXPECT_GE(d.duration.count(), 0);
    EXPECT_EQ(allocproof::strategies::format(d).rfind("Δ Allocations: +1, Δ Bytes: +700 (+0.00 MB), "
                                                      "Duration: ",
                                                      0),
              0u)
        << allocproof::strategies::format(d);

    // Live bytes may fall: the diff is signed.
    t.deallocate(late, 1000);
    const auto d2 = diff(after, t.snapshot());
    EXPECT_EQ(d2.live_bytes, -1000);
    EXPECT_EQ(d2.peak_rise, 0u);
    for (int i = 3; i < 10; ++i) t.deallocate(early[i], 100);
}

TEST(Tracked, AtomicCountersLoseNothingUnderTwoThreads) {
    tracked<global_new_blocks> t(block_spec{64, 16});
    constexpr int per_thread = 20000;
    auto work = [&] {
        std::vector<void*> live;
        for (int i = 0; i < per_thread; ++i) {
            live.push_back(t.allocate(static_cast<std::size_t>(16 + i % 64)));
            if (live.size() == 32) {
                for (std::size_t k = 0; k < live.size(); ++k) {
                    t.deallocate(live[k], 16 + (i - 31 + static_cast<int>(k)) % 64);
                }
                live.clear();
            }
        }
        // per_thread is a multiple of 32: nothing left.
    };
    std::thread other(work);
    work();
    other.join();
    std::uint64_t bytes = 0;
    for (int i = 0; i < per_thread; ++i) bytes += 16 + i % 64;
    const auto s = t.snapshot();
    EXPECT_EQ(s.allocations, 2u * per_thread);
    EXPECT_EQ(s.deallocations, 2u * per_thread);
    EXPECT_EQ(s.bytes_requested, 2 * bytes);
    EXPECT_EQ(s.live_bytes, 0u);
    // Each thread holds at most 32 blocks of at most 79 bytes.
    EXPECT_LE(s.peak_live_bytes, 2u * 32 * 79);
    EXPECT_GE(s.peak_live_bytes, 32u * 16);
}
