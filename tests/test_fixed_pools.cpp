// The fixed-size pools: fixed_pool and fixed_pool_stats (statistics exact on known sequences,
// chunk growth), fixed_pool_mt (per-thread caches: exact depot traffic, the locked fallback past
// the slot count, many threads with canaries, cross-thread frees, memory bounded under
// producer/consumer churn, a dead thread's cache inherited) and mutex_pool (many threads).
// The generic contract (no overlap, alignment up to 16, reuse, ASan use after free) is tested for
// every strategy in test_strategy_conformance.cpp.
#include "allocproof/registry.hpp"
#include "harness/micro_patterns.hpp"  // block_queue: the SPSC queue of the 2t_cross pattern
#include "strategies/fixed_pool.hpp"
#include "strategies/fixed_pool_mt.hpp"
#include "strategies/thread_index.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <mutex>
#include <random>
#include <latch>
#include <thread>
#include <vector>

using namespace allocproof;
using namespace allocproof::strategies;

namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif

const block_spec spec64{64, 16};

// Allocates until the pool takes a new chunk `chunks` times; returns each chunk's block count.
template <class Pool>
std::vector<std::uint64_t> chunk_sizes(Pool& pool, std::size_t chunks, std::vector<void*>& live) {
    std::vector<std::uint64_t> sizes;
    std::uint64_t capacity = pool.stats().capacity;
    while (sizes.size() < chunks) {
        live.push_back(pool.allocate(64));
        const std::uint64_t now = pool.stats().capacity;
        if (now != capacity) sizes.push_back(now - capacity);
        capacity = now;
    }
    return sizes;
}

// ---- fixed_pool / fixed_pool_stats ------------------------------------------------------------

TEST(FixedPoolStats, ExactOnAKnownSequence) {
    basic_fixed_pool<true> pool(spec64);
    fixed_pool_statistics s = pool.stats();
    EXPECT_EQ(s.acquired, 0u);
    EXPECT_EQ(s.capacity, 0u);
    EXPECT_EQ(s.chunks, 0u);
    EXPECT_EQ(s.hit_rate, 0.0);
    EXPECT_EQ(s.utilisation, 0.0);
    EXPECT_EQ(s.block_size, 64u);

    std::vector<void*> live;
    for (int i = 0; i < 100; ++i) live.push_back(pool.allocate(64));
    s = pool.stats();
    EXPECT_EQ(s.acquired, 100u);
    EXPECT_EQ(s.released, 0u);
    EXPECT_EQ(s.live, 100u);
    EXPECT_EQ(s.peak_live, 100u);
    EXPECT_EQ(s.capacity, 64u + 128u);  // growth factor 2 from 64 blocks
    EXPECT_EQ(s.chunks, 2u);
    EXPECT_DOUBLE_EQ(s.hit_rate, 98.0 / 100.0);
    EXPECT_DOUBLE_EQ(s.utilisation, 100.0 / 192.0);

    for (int i = 0; i < 40; ++i) {
        pool.deallocate(live.back(), 64);
        live.pop_back();
    }
    s = pool.stats();
    EXPECT_EQ(s.released, 40u);
    EXPECT_EQ(s.live, 60u);
    EXPECT_EQ(s.peak_live, 100u);

    for (int i = 0; i < 30; ++i) live.push_back(pool.allocate(64));  // all reused
    s = pool.stats();
    EXPECT_EQ(s.acquired, 130u);
    EXPECT_EQ(s.live, 90u);
    EXPECT_EQ(s.peak_live, 100u);
    EXPECT_EQ(s.capacity, 192u);
    EXPECT_DOUBLE_EQ(s.hit_rate, 128.0 / 130.0);

    for (int i = 0; i < 20; ++i) live.push_back(pool.allocate(64));  // 10 reused, 10 carved
    s = pool.stats();
    EXPECT_EQ(s.live, 110u);
    EXPECT_EQ(s.peak_live, 110u);
    EXPECT_EQ(s.chunks, 2u);

    for (int i = 0; i < 83; ++i) live.push_back(pool.allocate(64));  // 193rd block: third chunk
    s = pool.stats();
    EXPECT_EQ(s.live, 193u);
    EXPECT_EQ(s.peak_live, 193u);
    EXPECT_EQ(s.capacity, 64u + 128u + 256u);
    EXPECT_EQ(s.chunks, 3u);
    EXPECT_DOUBLE_EQ(s.hit_rate, (233.0 - 3.0) / 233.0);

    for (void* p : live) pool.deallocate(p, 64);
    s = pool.stats();
    EXPECT_EQ(s.live, 0u);
    EXPECT_EQ(s.acquired, s.released);
    EXPECT_EQ(s.peak_live, 193u);
    EXPECT_EQ(s.utilisation, 0.0);
}

TEST(FixedPoolStats, SteadyReuseHitRate) {
    basic_fixed_pool<true> pool(spec64);
    for (int i = 0; i < 1000; ++i) pool.deallocate(pool.allocate(64), 64);
    const auto s = pool.stats();
    EXPECT_EQ(s.acquired, 1000u);
    EXPECT_EQ(s.released, 1000u);
    EXPECT_EQ(s.peak_live, 1u);
    EXPECT_EQ(s.chunks, 1u);
    EXPECT_DOUBLE_EQ(s.hit_rate, 0.999);
}

TEST(FixedPoolStats, ChunksGrowByTwoByDefault) {
    basic_fixed_pool<true> pool(spec64);
    std::vector<void*> live;
    EXPECT_EQ(chunk_sizes(pool, 5, live), (std::vector<std::uint64_t>{64, 128, 256, 512, 1024}));
    EXPECT_EQ(live.size(), 64u + 128 + 256 + 512 + 1);
    for (void* p : live) pool.deallocate(p, 64);
}

TEST(FixedPoolStats, ChunksGrowByOneAndAHalfAsSeed002Configures) {
    basic_fixed_pool<true> pool(spec64, fixed_pool_options{.growth_factor = 1.5});
    std::vector<void*> live;
    // floor(previous x 1.5)
    EXPECT_EQ(chunk_sizes(pool, 8, live), (std::vector<std::uint64_t>{64, 96, 144, 216, 324, 486, 729, 1093}));
    const auto s = pool.stats();
    EXPECT_EQ(s.capacity, 64u + 96 + 144 + 216 + 324 + 486 + 729 + 1093);
    EXPECT_EQ(s.chunks, 8u);
    EXPECT_EQ(s.peak_live, live.size());
    for (void* p : live) pool.deallocate(p, 64);
}

TEST(FixedPoolStats, FirstChunkAndConstantGrowth) {
    basic_fixed_pool<true> pool(spec64, fixed_pool_options{.growth_factor = 1.0, .first_chunk_blocks = 10});
    std::vector<void*> live;
    EXPECT_EQ(chunk_sizes(pool, 4, live), (std::vector<std::uint64_t>{10, 10, 10, 10}));
    for (void* p : live) pool.deallocate(p, 64);
}

TEST(FixedPool, ChunkSizeIsCappedInBlocksAndBytes) {
    // 1 MiB blocks: the 16 MiB chunk cap is 16 blocks.
    const auto layout = strategies::detail::block_layout::of(block_spec{1 << 20, 16});
    strategies::detail::chunk_store store(layout, fixed_pool_options{.growth_factor = 3.0, .first_chunk_blocks = 4});
    std::size_t blocks = 0;
    store.grow(blocks);
    EXPECT_EQ(blocks, 4u);
    store.grow(blocks);
    EXPECT_EQ(blocks, 12u);
    EXPECT_EQ(store.next_chunk_blocks(), 16u);  // 36, capped
    EXPECT_EQ(store.capacity_blocks(), 16u);
    EXPECT_EQ(store.chunk_count(), 2u);

    strategies::detail::chunk_store small(strategies::detail::block_layout::of(spec64),
                                          fixed_pool_options{.growth_factor = 1e9});
    small.grow(blocks);
    EXPECT_EQ(small.next_chunk_blocks(), strategies::detail::chunk_store::max_chunk_blocks);
}

TEST(FixedPool, RejectsInvalidOptionsAndAlignments) {
    EXPECT_THROW(basic_fixed_pool<false>(spec64, {.growth_factor = 0.5}), std::invalid_argument);
    EXPECT_THROW(basic_fixed_pool<false>(spec64, {.growth_factor = std::nan("")}), std::invalid_argument);
    EXPECT_THROW(basic_fixed_pool<false>(spec64, {.growth_factor = INFINITY}), std::invalid_argument);
    EXPECT_THROW(basic_fixed_pool<false>(spec64, {.first_chunk_blocks = 0}), std::invalid_argument);
    EXPECT_THROW(basic_fixed_pool<false>(block_spec{64, 24}), std::invalid_argument);
    EXPECT_THROW(basic_fixed_pool_mt(block_spec{64, 0}), std::invalid_argument);
}

TEST(FixedPool, ReusesLastInFirstOut) {
    basic_fixed_pool<false> pool(spec64);
    void* a = pool.allocate(64);
    void* b = pool.allocate(64);
    EXPECT_EQ(static_cast<char*>(b) - static_cast<char*>(a), 64);  // carved in order
    pool.deallocate(a, 64);
    pool.deallocate(b, 64);
    EXPECT_EQ(pool.allocate(64), b);
    EXPECT_EQ(pool.allocate(64), a);
    pool.deallocate(a, 64);
    pool.deallocate(b, 64);
}

// Alignments above the conformance test's 16: block sizes round up to them.
TEST(FixedPool, LargeAlignments) {
    for (std::size_t alignment : {32u, 64u, 4096u}) {
        SCOPED_TRACE(alignment);
        basic_fixed_pool<false> st(block_spec{40, alignment});
        basic_fixed_pool_mt mt(block_spec{40, alignment});
        EXPECT_EQ(st.block_size(), alignment < 40 ? 64 : alignment);
        std::vector<void*> blocks;
        for (int i = 0; i < 200; ++i) {
            void* a = st.allocate(40);
            void* b = mt.allocate(40);
            EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a) % alignment, 0u);
            EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b) % alignment, 0u);
            std::memset(a, 1, 40);
            std::memset(b, 2, 40);
            blocks.push_back(a);
            blocks.push_back(b);
        }
        for (std::size_t i = 0; i < blocks.size(); i += 2) {
            st.deallocate(blocks[i], 40);
            mt.deallocate(blocks[i + 1], 40);
        }
    }
}

TEST(FixedPool, RegisteredTraits) {
    const auto& reg = registry::instance();
    const auto* plain = reg.find_strategy("fixed_pool");
    const auto* stats = reg.find_strategy("fixed_pool_stats");
    const auto* mt = reg.find_strategy("fixed_pool_mt");
    const auto* locked = reg.find_strategy("mutex_pool");
    ASSERT_TRUE(plain && stats && mt && locked);
    EXPECT_FALSE(plain->thread_safe);
    EXPECT_FALSE(stats->thread_safe);
    for (const auto* t : {mt, locked}) {
        EXPECT_TRUE(t->thread_safe) << t->name;
        EXPECT_TRUE(t->cross_thread_free) << t->name;
        EXPECT_TRUE(t->fixed_size) << t->name;
        EXPECT_TRUE(t->frees_individually) << t->name;
    }
}

// ---- fixed_pool_mt: exact depot traffic --------------------------------------------------------

TEST(FixedPoolMt, RefillsAndFlushesInBatches) {
    // The cache limit pinned at its initial two batches.
    basic_fixed_pool_mt pool(spec64, fixed_pool_mt_options{.batch_blocks = 16, .max_cache_blocks = 32});
    ASSERT_EQ(pool.initial_cache_limit(), 32u);
    ASSERT_EQ(pool.max_cache_blocks(), 32u);
    std::vector<void*> live;
    for (int i = 0; i < 40; ++i) live.push_back(pool.allocate(64));
    auto s = pool.stats();
    ASSERT_EQ(s.fallback_allocations, 0u) << "this thread should have a slot";
    EXPECT_EQ(s.batches_to_caches, 3u);  // 16 + 16 + 16 carved, 8 left in the cache
    EXPECT_EQ(s.capacity, 64u);
    EXPECT_EQ(s.chunks, 1u);
    EXPECT_EQ(s.depot_blocks, 0u);

    // 8 cached + 24 frees reach the limit (32); the 25th hands 16 back; 15 more refill to 32.
    for (void* p : live) pool.deallocate(p, 64);
    s = pool.stats();
    EXPECT_EQ(s.batches_from_caches, 1u);
    EXPECT_EQ(s.depot_blocks, 16u);

    // 32 cached: the 33rd allocation takes the depot's batch back.
    live.clear();
    for (int i = 0; i < 33; ++i) live.push_back(pool.allocate(64));
    s = pool.stats();
    EXPECT_EQ(s.batches_to_caches, 4u);
    EXPECT_EQ(s.depot_blocks, 0u);
    EXPECT_EQ(s.capacity, 64u);
    for (void* p : live) pool.deallocate(p, 64);
}

// A cache that runs empty may hold one batch more, up to max_cache_blocks; a thread that only
// frees keeps the initial limit.
TEST(FixedPoolMt, CacheLimitGrowsOnlyWhenTheCacheRunsEmpty) {
    basic_fixed_pool_mt pool(spec64, fixed_pool_mt_options{.batch_blocks = 16, .max_cache_blocks = 64});
    std::vector<void*> live;
    for (int i = 0; i < 100; ++i) live.push_back(pool.allocate(64));
    auto s = pool.stats();
    EXPECT_EQ(s.batches_to_caches, 7u);  // 112 carved, 12 left; limit 32 + 7 x 16, capped at 64
    // 12 cached + 52 frees reach 64; then every 16th free hands a batch back: three batches.
    for (void* p : live) pool.deallocate(p, 64);
    s = pool.stats();
    EXPECT_EQ(s.batches_from_caches, 3u);
    EXPECT_EQ(s.depot_blocks, 48u);

    // Another thread that only frees: its limit stays at 32. 100 frees: the 33rd and every 16th
    // after it hand a batch back (33, 49, 65, 81, 97), leaving 20 in its cache.
    live.clear();
    for (int i = 0; i < 100; ++i) live.push_back(pool.allocate(64));
    const auto before = pool.stats();
    std::thread([&] {
        for (void* p : live) pool.deallocate(p, 64);
    }).join();
    s = pool.stats();
    EXPECT_EQ(s.batches_from_caches - before.batches_from_caches, 5u);
    EXPECT_EQ(s.fallback_deallocations, 0u);
}

TEST(FixedPoolMt, DefaultBatchAndCacheSizes) {
    EXPECT_EQ(basic_fixed_pool_mt(block_spec{64, 16}).batch_blocks(), 64u);
    EXPECT_EQ(basic_fixed_pool_mt(block_spec{256, 16}).batch_blocks(), 64u);
    EXPECT_EQ(basic_fixed_pool_mt(block_spec{512, 16}).batch_blocks(), 32u);
    EXPECT_EQ(basic_fixed_pool_mt(block_spec{8192, 16}).batch_blocks(), 16u);
    EXPECT_EQ(basic_fixed_pool_mt(block_spec{64, 16}).initial_cache_limit(), 128u);
    EXPECT_EQ(basic_fixed_pool_mt(block_spec{64, 16}).max_cache_blocks(), 4096u);  // 256 KiB
    EXPECT_EQ(basic_fixed_pool_mt(block_spec{256, 16}).max_cache_blocks(), 1024u);
    EXPECT_EQ(basic_fixed_pool_mt(block_spec{8192, 16}).max_cache_blocks(), 32u);  // two batches
}

// ---- fixed_pool_mt: the locked fallback past the slot count -------------------------------------

TEST(FixedPoolMt, WithoutSlotsEveryCallTakesTheDepot) {
    basic_fixed_pool_mt pool(spec64, fixed_pool_mt_options{.batch_blocks = 16, .thread_slots = 0});
    std::vector<void*> live;
    for (int i = 0; i < 100; ++i) live.push_back(pool.allocate(64));
    for (int i = 0; i < 50; ++i) {
        pool.deallocate(live.back(), 64);
        live.pop_back();
    }
    auto s = pool.stats();
    EXPECT_EQ(s.fallback_allocations, 100u);
    EXPECT_EQ(s.fallback_deallocations, 50u);
    EXPECT_EQ(s.batches_to_caches, 0u);
    EXPECT_EQ(s.depot_blocks, 50u);  // three full batches and two loose
    EXPECT_EQ(s.capacity, 64u + 128u);
    // Freed blocks are reused before any new chunk.
    for (int i = 0; i < 50; ++i) live.push_back(pool.allocate(64));
    s = pool.stats();
    EXPECT_EQ(s.depot_blocks, 0u);
    EXPECT_EQ(s.capacity, 64u + 128u);
    std::sort(live.begin(), live.end());
    EXPECT_EQ(std::adjacent_find(live.begin(), live.end()), live.end()) << "a block handed out twice";
    for (void* p : live) pool.deallocate(p, 64);
}

// One slot: the thread holding index 0 uses its cache, every other thread the fallback. The
// expected fallback count is computed from each thread's own index.
TEST(FixedPoolMt, ThreadsPastTheSlotCountFallBack) {
    basic_fixed_pool_mt pool(spec64, fixed_pool_mt_options{.batch_blocks = 8, .thread_slots = 1});
    constexpr int threads = 4, rounds = 500, per_round = 10;
    std::atomic<std::uint64_t> expected_fallback{0};
    // All threads hold their indices at once: an exited thread's index would be reused.
    std::latch all_started(threads), all_done(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&] {
            void* first = pool.allocate(64);  // takes this thread's index if it has none
            all_started.arrive_and_wait();
            const bool cached = thread_index::current() < pool.thread_slots();
            std::vector<void*> live{first};
            for (int r = 0; r < rounds; ++r) {
                while (live.size() < per_round) live.push_back(pool.allocate(64));
                for (void* p : live) pool.deallocate(p, 64);
                live.clear();
            }
            if (!cached) expected_fallback += rounds * per_round;
            all_done.arrive_and_wait();
        });
    }
    for (auto& w : workers) w.join();
    const auto s = pool.stats();
    EXPECT_GE(s.fallback_allocations, std::uint64_t{threads - 1} * rounds * per_round);
    EXPECT_EQ(s.fallback_allocations, expected_fallback.load());
    EXPECT_EQ(s.fallback_deallocations, expected_fallback.load());
}

// ---- many threads, canaries -------------------------------------------------------------------

struct owned_block {
    unsigned char* data;
    std::uint64_t tag;
};

void fill(const owned_block& b, std::size_t size) {
    std::memcpy(b.data, &b.tag, sizeof b.tag);
    std::memset(b.data + sizeof b.tag, static_cast<int>(b.tag & 0xFF), size - sizeof b.tag);
}

bool intact(const owned_block& b, std::size_t size) {
    std::uint64_t tag;
    std::memcpy(&tag, b.data, sizeof tag);
    if (tag != b.tag) return false;
    for (std::size_t i = sizeof tag; i < size; ++i) {
        if (b.data[i] != static_cast<unsigned char>(b.tag & 0xFF)) return false;
    }
    return true;
}

// `threads` threads allocate and free at random around a live set of their own, checking each
// block's canary before freeing it; one free in 8 goes through another thread's mailbox instead,
// so the block is checked and freed on that thread. A block handed to two owners at once has its
// canary overwritten by the other (and is a data race for ThreadSanitizer).
template <class Pool>
void stress_with_canaries(Pool& pool, unsigned threads, std::size_t size) {
    const int ops = sanitized ? 40'000 : 200'000;
    struct mailbox {
        std::mutex mutex;
        std::vector<owned_block> blocks;
    };
    std::vector<mailbox> mailboxes(threads);
    std::atomic<unsigned> failures{0};
    std::vector<std::thread> workers;
    for (unsigned t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            std::mt19937_64 random(t + 1);
            std::vector<owned_block> live;
            std::uint64_t serial = 0;
            auto release = [&](const owned_block& b) {
                if (!intact(b, size)) ++failures;
                pool.deallocate(b.data, size);
            };
            auto drain = [&] {
                std::vector<owned_block> received;
                {
                    std::lock_guard lock(mailboxes[t].mutex);
                    received.swap(mailboxes[t].blocks);
                }
                for (const auto& b : received) release(b);
            };
            for (int i = 0; i < ops; ++i) {
                const auto r = random();
                if (live.empty() || (live.size() < 300 && (r & 1))) {
                    owned_block b{static_cast<unsigned char*>(pool.allocate(size)),
                                  (std::uint64_t{t} << 48) | ++serial};
                    fill(b, size);
                    live.push_back(b);
                } else {
                    const std::size_t k = (r >> 8) % live.size();
                    const owned_block b = live[k];
                    live[k] = live.back();
                    live.pop_back();
                    if (((r >> 40) & 7) == 0) {
                        mailbox& to = mailboxes[(t + 1) % threads];
                        std::lock_guard lock(to.mutex);
                        to.blocks.push_back(b);
                    } else {
                        release(b);
                    }
                }
                if ((i & 255) == 0) drain();
            }
            for (const auto& b : live) release(b);
            drain();
        });
    }
    for (auto& w : workers) w.join();
    for (auto& m : mailboxes) {
        for (const auto& b : m.blocks) {
            if (!intact(b, size)) ++failures;
            pool.deallocate(b.data, size);
        }
    }
    EXPECT_EQ(failures.load(), 0u) << "a block's canary changed while it was owned";
}

TEST(FixedPoolMt, ManyThreadsWithCanaries) {
    for (unsigned threads : {4u, 8u}) {
        SCOPED_TRACE(threads);
        basic_fixed_pool_mt pool(block_spec{48, 16}, fixed_pool_mt_options{.batch_blocks = 16});
        stress_with_canaries(pool, threads, 48);
        EXPECT_EQ(pool.stats().fallback_allocations, 0u);
    }
}

TEST(FixedPoolMt, ManyThreadsWithCanariesSomeWithoutSlots) {
    basic_fixed_pool_mt pool(block_spec{48, 16}, fixed_pool_mt_options{.batch_blocks = 16, .thread_slots = 2});
    stress_with_canaries(pool, 6, 48);
    EXPECT_GT(pool.stats().fallback_allocations, 0u);
}

TEST(MutexPool, ManyThreadsWithCanaries) {
    auto pool = registry::instance().make_strategy("mutex_pool", block_spec{48, 16});
    ASSERT_NE(pool, nullptr);
    stress_with_canaries(*pool, 8, 48);
}

TEST(FixedPoolMt, RegisteredStrategyManyThreadsWithCanaries) {
    auto pool = registry::instance().make_strategy("fixed_pool_mt", block_spec{64, 16});
    ASSERT_NE(pool, nullptr);
    stress_with_canaries(*pool, 8, 64);
}

// ---- cross-thread frees -------------------------------------------------------------------------

// One thread allocates, the other frees what it receives through a queue, as in the 2t_cross
// micro pattern. Every block arrives with the sequence number the producer wrote, and the pool's
// capacity must stay near the live maximum instead of growing with the number of pairs (which it
// would if the consumer's cache kept every block it freed).
template <class Pool>
void cross_thread_pairs(Pool& pool, std::size_t pairs, std::atomic<std::uint64_t>& mismatches) {
    auto queue = std::make_unique<micro::block_queue>();
    std::thread consumer([&] {
        for (std::size_t i = 0; i < pairs; ++i) {
            auto* block = static_cast<std::uint64_t*>(queue->pop());
            if (block[0] != i || block[7] != ~i) ++mismatches;
            pool.deallocate(block, 64);
        }
    });
    for (std::size_t i = 0; i < pairs; ++i) {
        auto* block = static_cast<std::uint64_t*>(pool.allocate(64));
        block[0] = i;
        block[7] = ~i;
        queue->push(block);
    }
    consumer.join();
}

TEST(FixedPoolMt, CrossThreadChurnKeepsMemoryBounded) {
    basic_fixed_pool_mt pool(spec64);
    const std::size_t pairs = sanitized ? 100'000 : 1'000'000;
    std::atomic<std::uint64_t> mismatches{0};
    cross_thread_pairs(pool, pairs, mismatches);
    EXPECT_EQ(mismatches.load(), 0u);
    const auto s = pool.stats();
    // Live at most: the queue (1024) and one block in each thread's hands. Free: the consumer's
    // cache (it never runs empty, so its limit stays initial: at most that + 1), the producer's
    // (at most a batch: it never frees), a batch in flight; chunks at most double what was
    // carved, plus the first chunk.
    const std::uint64_t carved_bound = 1024 + 2 + (s.initial_cache_limit + 1) + 2 * s.batch_blocks;
    EXPECT_LE(s.capacity, 2 * carved_bound + 64) << "capacity grew with the number of pairs";
    EXPECT_GT(s.batches_from_caches, pairs / s.batch_blocks / 2) << "frees did not flow back";
    EXPECT_EQ(s.fallback_allocations + s.fallback_deallocations, 0u);
}

TEST(MutexPool, CrossThreadPairs) {
    auto pool = registry::instance().make_strategy("mutex_pool", spec64);
    std::atomic<std::uint64_t> mismatches{0};
    cross_thread_pairs(*pool, sanitized ? 20'000 : 50'000, mismatches);
    EXPECT_EQ(mismatches.load(), 0u);
}

// Deterministic: 10,000 blocks allocated here, all freed on another thread, then 10,000 allocated
// here again. The second round must reuse the blocks the other thread freed: no new chunk.
TEST(FixedPoolMt, BlocksFreedOnAnotherThreadComeBack) {
    basic_fixed_pool_mt pool(spec64, fixed_pool_mt_options{.batch_blocks = 16});
    constexpr std::size_t n = 10'000;
    std::vector<void*> blocks(n);
    for (auto& b : blocks) b = pool.allocate(64);
    const auto first = pool.stats();
    EXPECT_EQ(first.capacity, 64u + 128 + 256 + 512 + 1024 + 2048 + 4096 + 8192);
    std::thread([&] {
        for (void* b : blocks) pool.deallocate(b, 64);
    }).join();
    const auto freed = pool.stats();
    EXPECT_GE(freed.depot_blocks, n - freed.initial_cache_limit);
    for (auto& b : blocks) b = pool.allocate(64);
    EXPECT_EQ(pool.stats().capacity, first.capacity);
    EXPECT_EQ(pool.stats().chunks, first.chunks);
    for (void* b : blocks) pool.deallocate(b, 64);
}

// A thread's index goes back when it exits; the next thread takes it with the cache the first
// one left in every instance, so those blocks are neither lost nor fetched from the depot again.
TEST(FixedPoolMt, DeadThreadsCacheIsInherited) {
    basic_fixed_pool_mt pool(spec64, fixed_pool_mt_options{.batch_blocks = 16});
    unsigned first_index = 0, second_index = 0;
    std::thread([&] {
        pool.deallocate(pool.allocate(64), 64);  // cache: one batch of 16
        first_index = thread_index::current();
    }).join();
    const auto before = pool.stats();
    EXPECT_EQ(before.batches_to_caches, 1u);
    std::thread([&] {
        std::vector<void*> live;
        for (int i = 0; i < 16; ++i) live.push_back(pool.allocate(64));
        second_index = thread_index::current();
        for (void* p : live) pool.deallocate(p, 64);
    }).join();
    EXPECT_EQ(first_index, second_index);
    EXPECT_EQ(pool.stats().batches_to_caches, 1u) << "the inherited cache should have served";
}

// A thread_local destroyed after the thread gave its index back (it was constructed before the
// thread's first call into a pool) may still free blocks: that free takes the locked path.
struct free_at_thread_exit {
    basic_fixed_pool_mt* pool = nullptr;
    void* block = nullptr;
    ~free_at_thread_exit() {
        if (pool != nullptr) pool->deallocate(block, 64);
    }
};

TEST(FixedPoolMt, FreesAfterTheThreadReleasedItsIndexTakeTheDepot) {
    basic_fixed_pool_mt pool(spec64);
    unsigned during = thread_index::unassigned;
    std::thread([&] {
        static thread_local free_at_thread_exit holder;  // before the index: destroyed after it
        holder.pool = &pool;
        holder.block = pool.allocate(64);
        during = thread_index::current();
    }).join();
    EXPECT_LT(during, pool.thread_slots());
    const auto s = pool.stats();
    EXPECT_EQ(s.fallback_deallocations, 1u);
    EXPECT_EQ(s.fallback_allocations, 0u);
    EXPECT_EQ(s.depot_blocks, 1u);
}

TEST(ThreadIndex, DistinctWhileAliveAndSmall) {
    constexpr unsigned threads = 8;
    std::vector<unsigned> indices(threads);
    std::atomic<unsigned> arrived{0};
    std::vector<std::thread> workers;
    for (unsigned t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            EXPECT_EQ(thread_index::current(), thread_index::unassigned);
            indices[t] = thread_index::assign();
            EXPECT_EQ(thread_index::current(), indices[t]);
            ++arrived;
            while (arrived.load() < threads) std::this_thread::yield();  // all alive at once
        });
    }
    for (auto& w : workers) w.join();
    std::sort(indices.begin(), indices.end());
    EXPECT_EQ(std::adjacent_find(indices.begin(), indices.end()), indices.end());
    // This thread may hold one index too; nothing else runs threads during this test.
    EXPECT_LE(indices.back(), threads);
}

}  // namespace
