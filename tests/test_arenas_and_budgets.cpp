// Tests of the arena, arena_pool, aligned_pool and budget_pools strategies beyond what the
// conformance test checks for every strategy: exact statistics on known sequences, reset,
// alignment, large requests, the pool's store (no global allocator call after warm-up), leases,
// thread arenas, zeroing, limits under concurrent demand, pressure warnings, the old-block report.
#include "strategies/aligned_pool.hpp"
#include "strategies/arena.hpp"
#include "strategies/arena_pool.hpp"
#include "strategies/budget_pools.hpp"

#include "canary_block.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <thread>
#include <vector>

using allocproof::block_spec;
using allocproof::strategies::aligned_pool;
using allocproof::strategies::arena;
using allocproof::strategies::arena_pool;
using allocproof::strategies::budget_pools;
namespace arenas = allocproof::arenas;
namespace budgets = allocproof::budgets;

namespace {

std::uintptr_t address(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

using span = allocproof::testing::canary_block;
using allocproof::testing::fill;
using allocproof::testing::intact;

// Sorted by address, no live span overlaps the next, and every one still holds its canary.
void expect_disjoint_and_intact(std::vector<span> spans) {
    std::sort(spans.begin(), spans.end(), [](const span& a, const span& b) { return a.data < b.data; });
    for (std::size_t i = 0; i < spans.size(); ++i) {
        ASSERT_TRUE(intact(spans[i])) << "a live block's contents changed";
        if (i > 0) {
            ASSERT_LE(spans[i - 1].data + spans[i - 1].size, spans[i].data) << "blocks overlap";
        }
    }
}

// ---- arena ---------------------------------------------------------------------------------------

TEST(Arena, StatisticsAreExactAndResetKeepsOnlyTheLargestChunk) {
    arena a(block_spec{64, 16});
    // The first chunk (4096 B, 16 B header) holds 63 blocks of 64 B, the second (8192 B) 127.
    std::vector<void*> blocks;
    for (int i = 0; i < 63 + 127; ++i) blocks.push_back(a.allocate(64));
    auto s = a.statistics();
    EXPECT_EQ(s.bytes_used, 190u * 64);
    EXPECT_EQ(s.chunks, 2u);
    EXPECT_EQ(s.bytes_held, 4096u + 8192u);
    blocks.push_back(a.allocate(64));  // the third chunk: 16 KiB
    s = a.statistics();
    EXPECT_EQ(s.bytes_used, 191u * 64);  // the first chunk's 48-byte tail is not counted
    EXPECT_EQ(s.chunks, 3u);
    EXPECT_EQ(s.bytes_held, 4096u + 8192u + 16384u);
    EXPECT_EQ(s.chunks_taken, 3u);
    // Consecutive blocks within a chunk are packed.
    EXPECT_EQ(address(blocks[1]) - address(blocks[0]), 64u);

    a.reset();
    s = a.statistics();
    EXPECT_EQ(s.bytes_used, 0u);
    EXPECT_EQ(s.chunks, 1u);
    EXPECT_EQ(s.bytes_held, 16384u);
    EXPECT_EQ(s.chunks_given, 2u);

    // The kept 16 KiB chunk serves again from its start (255 blocks); growth goes on at 32 KiB.
    EXPECT_EQ(a.allocate(64), blocks.back());
    for (int i = 1; i < 255; ++i) a.allocate(64);
    EXPECT_EQ(a.statistics().chunks_taken, 3u);
    a.allocate(64);
    s = a.statistics();
    EXPECT_EQ(s.chunks_taken, 4u);
    EXPECT_EQ(s.bytes_held, 16384u + 32768u);
}

TEST(Arena, RepeatedResetsDoNotGrowTheArena) {
    arena a(block_spec{64, 16});
    std::size_t settled = 0;
    for (int round = 0; round < 20; ++round) {
        for (int i = 0; i < 5000; ++i) static_cast<unsigned char*>(a.allocate(64))[0] = 1;
        a.reset();
        ASSERT_EQ(a.statistics().chunks, 1u);
        // Round 0 keeps 256 KiB, too small for 320,000 bytes; round 1 adds and keeps 512 KiB,
        // which holds every later round: from then on nothing is taken or given.
        if (round == 1) {
            settled = a.statistics().bytes_held;
        } else if (round > 1) {
            ASSERT_EQ(a.statistics().bytes_held, settled);
        }
    }
    EXPECT_EQ(settled, 524288u);
}

TEST(Arena, HonoursAlignmentsUpTo64WithMixedSizes) {
    for (std::size_t alignment : {std::size_t{16}, std::size_t{32}, std::size_t{64}}) {
        SCOPED_TRACE("alignment " + std::to_string(alignment));
        arena a(block_spec{24, alignment});
        std::mt19937_64 random(alignment);
        std::vector<span> live;
        for (int i = 0; i < 3000; ++i) {
            std::size_t size = 1 + random() % 300;
            auto* p = static_cast<unsigned char*>(a.allocate(size));
            ASSERT_EQ(address(p) % alignment, 0u);
            live.push_back({p, size, static_cast<unsigned char>(random() | 1)});
            fill(live.back());
        }
        expect_disjoint_and_intact(live);
    }
}

TEST(Arena, LargeRequestsGetTheirOwnChunkAndSmallOnesContinue) {
    arena a(block_spec{64, 64});
    auto* small = static_cast<unsigned char*>(a.allocate(64));
    const std::size_t large_size = std::size_t{3} << 20;
    auto* large = static_cast<unsigned char*>(a.allocate(large_size));
    ASSERT_EQ(address(large) % 64, 0u);
    std::memset(large, 0x5a, large_size);  // all of it is ours (ASan checks)
    auto s = a.statistics();
    EXPECT_EQ(s.chunks, 2u);
    // 3 MiB + header + padding, rounded up to 64 KiB.
    EXPECT_EQ(s.bytes_held, 4096u + large_size + (std::size_t{64} << 10));
    // The current chunk keeps serving small requests right after the last one.
    auto* next = static_cast<unsigned char*>(a.allocate(64));
    EXPECT_EQ(next, small + 64);
    EXPECT_EQ(large[large_size - 1], 0x5a);

    // A request bigger than the next standard chunk makes that chunk big enough for it.
    a.reset();
    a.allocate(100'000);
    s = a.statistics();
    EXPECT_EQ(s.chunks, 2u);
    EXPECT_EQ(s.bytes_held, 4096u + 131072u);
    a.reset();
    EXPECT_EQ(a.statistics().chunks, 1u);
}

TEST(Arena, ZeroBytesGiveDistinctBlocksAndImpossibleRequestsThrow) {
    arena a(block_spec{8, 8});
    void* first = a.allocate(0);
    void* second = a.allocate(0);
    EXPECT_NE(first, second);
    EXPECT_THROW(a.allocate(SIZE_MAX - 8), std::bad_alloc);
    EXPECT_THROW((arena{block_spec{64, 24}}), std::invalid_argument);
}

TEST(Arena, CreateConstructsObjectsAlignedForTheirType) {
    struct alignas(32) vec4 {
        float values[8];
        int tag;
    };
    arenas::bump_arena a;
    void* first = a.allocate(3, 1);  // leaves the bump pointer misaligned
    vec4* v = a.create<vec4>(vec4{{1, 2, 3, 4, 5, 6, 7, 8}, 42});
    EXPECT_EQ(address(v) % 32, 0u);
    EXPECT_GT(address(v), address(first) + 2);
    EXPECT_EQ(v->tag, 42);
    EXPECT_EQ(v->values[7], 8.0f);
    // Bytes used count the padding before the object.
    EXPECT_EQ(a.statistics().bytes_used, address(v) + sizeof(vec4) - address(first));
}

#if defined(__SANITIZE_ADDRESS__)
// What an arena no longer hands out is poisoned: a block used after reset(), or after the no-op
// deallocate(), is caught as a use after free in malloc would be.
TEST(ArenaDeathTest, UseAfterResetOrDeallocateIsCaught) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    arena a(block_spec{64, 16});
    auto* block = static_cast<volatile unsigned char*>(a.allocate(64));
    a.reset();
    EXPECT_DEATH(block[8] = 1, "AddressSanitizer");
    auto* freed = static_cast<volatile unsigned char*>(a.allocate(64));
    a.deallocate(const_cast<unsigned char*>(freed), 64);
    EXPECT_DEATH(freed[8] = 1, "AddressSanitizer");
}

TEST(ArenaPoolDeathTest, ChunksInTheStoreArePoisoned) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    arena_pool pool(block_spec{64, 16});
    volatile unsigned char* in_second_chunk = nullptr;
    for (int i = 0; i < 100; ++i) in_second_chunk = static_cast<unsigned char*>(pool.allocate(64));
    pool.reset();
    ASSERT_EQ(pool.statistics().free_chunks, 1u);
    EXPECT_DEATH(in_second_chunk[0] = 1, "AddressSanitizer");
}
#endif

// ---- arena_pool ----------------------------------------------------------------------------------

// One "operation": small blocks through several chunks, a few mid-size ones and one beyond 1 MiB.
template <class Allocate>
void one_operation(Allocate allocate) {
    for (int i = 0; i < 3000; ++i) static_cast<unsigned char*>(allocate(64))[0] = 1;
    for (int i = 0; i < 5; ++i) static_cast<unsigned char*>(allocate(20'000))[19'999] = 2;
    static_cast<unsigned char*>(allocate(std::size_t{2} << 20))[0] = 3;
}

TEST(ArenaPool, BlocksInterfaceMakesNoGlobalCallAfterWarmUp) {
    arena_pool pool(block_spec{64, 16});
    one_operation([&](std::size_t n) { return pool.allocate(n); });
    pool.reset();
    const auto warm = pool.statistics();
    EXPECT_GT(warm.chunks_from_global, 3u);
    EXPECT_EQ(warm.chunks_from_global, warm.free_chunks + 1);  // all but the kept first chunk
    for (int op = 0; op < 50; ++op) {
        one_operation([&](std::size_t n) { return pool.allocate(n); });
        pool.reset();
    }
    const auto after = pool.statistics();
    EXPECT_EQ(after.chunks_from_global, warm.chunks_from_global);
    EXPECT_EQ(after.chunks_to_global, 0u);
    EXPECT_EQ(after.chunks_reused, warm.chunks_reused + 50 * (warm.chunks_from_global - 1));
    EXPECT_EQ(pool.own_statistics().chunks, 1u);

    // The plain arena, by contrast, goes back to the global allocator until the one chunk it
    // keeps (its largest) holds a whole operation: fewer chunks the second time, but not none.
    arena plain(block_spec{64, 16});
    one_operation([&](std::size_t n) { return plain.allocate(n); });
    plain.reset();
    const std::size_t taken = plain.statistics().chunks_taken;
    one_operation([&](std::size_t n) { return plain.allocate(n); });
    const std::size_t again = plain.statistics().chunks_taken - taken;
    EXPECT_GT(again, 0u);
    EXPECT_LT(again, taken);
}

TEST(ArenaPool, LeasesMakeNoGlobalCallAfterWarmUp) {
    arena_pool pool;
    auto operation = [&] {
        arena_pool::lease lease = pool.acquire();
        one_operation([&](std::size_t n) { return lease->allocate(n); });
    };
    operation();
    const auto warm = pool.statistics();
    EXPECT_EQ(warm.arenas_created, 1u);
    EXPECT_EQ(warm.leases_out, 0u);
    for (int op = 0; op < 50; ++op) operation();
    const auto after = pool.statistics();
    EXPECT_EQ(after.chunks_from_global, warm.chunks_from_global);
    EXPECT_EQ(after.arenas_created, 1u);
    EXPECT_EQ(after.free_chunks, warm.free_chunks);
}

TEST(ArenaPool, StoreKeepsAtMostMaxFreeBytes) {
    arena_pool pool(block_spec{64, 16}, arenas::arena_pool_options{.max_free_bytes = 64 << 10});
    for (int i = 0; i < 100; ++i) pool.allocate(1000);  // chunks of 4, 8, 16, 32, 64 KiB
    pool.reset();
    const auto s = pool.statistics();
    EXPECT_EQ(s.chunks_from_global, 5u);
    // 8 + 16 + 32 KiB fit within 64 KiB; the 64 KiB chunk does not.
    EXPECT_EQ(s.free_bytes, (8u + 16u + 32u) << 10);
    EXPECT_EQ(s.chunks_to_global, 1u);
}

TEST(ArenaPool, LeasesReturnArenasForReuse) {
    arena_pool pool;
    arenas::bump_arena* first_arena;
    {
        auto a = pool.acquire();
        auto b = pool.acquire();
        auto c = pool.acquire();
        first_arena = &*a;
        EXPECT_NE(&*a, &*b);
        EXPECT_EQ(pool.statistics().leases_out, 3u);
        EXPECT_EQ(pool.statistics().arenas_created, 3u);
        for (int i = 0; i < 100; ++i) a->allocate(64);  // two chunks
        arena_pool::lease moved = std::move(b);
        EXPECT_FALSE(b);
        EXPECT_TRUE(moved);
        c.end();
        EXPECT_FALSE(c);
        EXPECT_EQ(pool.statistics().leases_out, 2u);
        EXPECT_EQ(pool.statistics().arenas_idle, 1u);
    }
    auto s = pool.statistics();
    EXPECT_EQ(s.leases_out, 0u);
    EXPECT_EQ(s.arenas_idle, 3u);
    EXPECT_EQ(s.free_chunks, 1u);  // a's second chunk; a keeps its first
    // Last in, first out: the arena ended last (a) is handed out next, with its first chunk.
    auto again = pool.acquire();
    EXPECT_EQ(&*again, first_arena);
    EXPECT_EQ(again->statistics().chunks, 1u);
    EXPECT_EQ(again->statistics().bytes_used, 0u);
    EXPECT_EQ(pool.statistics().arenas_created, 3u);
}

TEST(ArenaPool, ThreadArenasAreOnePerThreadAndComeBackWhenThreadsExit) {
    arena_pool pool;
    constexpr int threads = 4;
    std::vector<arenas::bump_arena*> seen(threads);
    std::barrier all_attached(threads + 1);
    std::barrier checked(threads + 1);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            std::mt19937_64 random(t);
            for (int op = 0; op < 200; ++op) {
                arenas::bump_arena& mine = pool.thread_arena();
                if (op == 0) seen[t] = &mine;
                EXPECT_EQ(&mine, seen[t]);
                std::vector<span> live;
                for (int i = 0; i < 50; ++i) {
                    std::size_t size = 1 + random() % 500;
                    auto* p = static_cast<unsigned char*>(mine.allocate(size, 16));
                    live.push_back({p, size, static_cast<unsigned char>(t * 16 + 1)});
                    fill(live.back());
                }
                expect_disjoint_and_intact(live);
                mine.reset();
            }
            all_attached.arrive_and_wait();
            checked.arrive_and_wait();
        });
    }
    all_attached.arrive_and_wait();
    EXPECT_EQ(pool.statistics().thread_arenas, static_cast<std::size_t>(threads));
    checked.arrive_and_wait();
    for (auto& w : workers) w.join();
    EXPECT_EQ(std::set<arenas::bump_arena*>(seen.begin(), seen.end()).size(), static_cast<std::size_t>(threads));
    const auto s = pool.statistics();
    EXPECT_EQ(s.thread_arenas, 0u);
    EXPECT_EQ(s.arenas_idle, static_cast<std::size_t>(threads));
    EXPECT_EQ(s.arenas_created, static_cast<std::size_t>(threads));
}

TEST(ArenaPool, ThreadArenaSurvivesItsPoolAndCanBeReleasedEarly) {
    std::barrier attached(2), pool_gone(2);
    std::thread holder;
    {
        arena_pool doomed;
        holder = std::thread([&] {
            doomed.thread_arena().allocate(64);
            attached.arrive_and_wait();
            pool_gone.arrive_and_wait();
            // The pool is gone; a new one here gets a new arena, and exiting must not touch the
            // dead pool (ASan would see it).
            arena_pool fresh;
            fresh.thread_arena().allocate(64);
            EXPECT_EQ(fresh.statistics().thread_arenas, 1u);
            fresh.release_thread_arena();
            EXPECT_EQ(fresh.statistics().thread_arenas, 0u);
            EXPECT_EQ(fresh.statistics().arenas_idle, 1u);
        });
        attached.arrive_and_wait();
        EXPECT_EQ(doomed.statistics().thread_arenas, 1u);
    }
    pool_gone.arrive_and_wait();
    holder.join();

    // The main thread too: released early, then taken again.
    arena_pool pool;
    arenas::bump_arena* mine = &pool.thread_arena();
    EXPECT_EQ(&pool.thread_arena(), mine);
    pool.release_thread_arena();
    EXPECT_EQ(pool.statistics().thread_arenas, 0u);
    EXPECT_EQ(&pool.thread_arena(), mine);  // the idle arena comes back
    EXPECT_EQ(pool.statistics().arenas_created, 1u);
    pool.release_thread_arena();
}

TEST(ArenaPool, LeasesFromSeveralThreadsShareOneStore) {
    arena_pool pool;
    std::vector<std::thread> workers;
    for (int t = 0; t < 4; ++t) {
        workers.emplace_back([&, t] {
            for (int op = 0; op < 100; ++op) {
                auto lease = pool.acquire();
                std::vector<span> live;
                for (int i = 0; i < 100; ++i) {
                    auto* p = static_cast<unsigned char*>(lease->allocate(200));
                    live.push_back({p, 200, static_cast<unsigned char>(t + 1)});
                    fill(live.back());
                }
                expect_disjoint_and_intact(live);
            }
        });
    }
    for (auto& w : workers) w.join();
    const auto s = pool.statistics();
    EXPECT_EQ(s.leases_out, 0u);
    EXPECT_LE(s.arenas_created, 4u);
    EXPECT_EQ(s.arenas_idle, s.arenas_created);
}

// ---- aligned_pool --------------------------------------------------------------------------------

TEST(AlignedPool, BlocksAreAlignedToAtLeast32AndRounded) {
    struct expectation {
        std::size_t size, alignment, block, block_alignment;
    };
    for (const auto& e : {expectation{24, 8, 32, 32}, expectation{100, 16, 128, 32}, expectation{100, 64, 128, 64},
                          expectation{1536, 32, 1536, 32}, expectation{65, 64, 128, 64}}) {
        SCOPED_TRACE("size " + std::to_string(e.size) + " alignment " + std::to_string(e.alignment));
        aligned_pool pool(block_spec{e.size, e.alignment});
        EXPECT_EQ(pool.statistics().block_size, e.block);
        EXPECT_EQ(pool.statistics().alignment, e.block_alignment);
        std::vector<void*> blocks;
        for (int i = 0; i < 300; ++i) {
            blocks.push_back(pool.allocate(e.size));
            ASSERT_EQ(address(blocks.back()) % e.block_alignment, 0u);
        }
        for (void* b : blocks) pool.deallocate(b, e.size);
        for (int i = 0; i < 300; ++i) ASSERT_EQ(address(pool.allocate(e.size)) % e.block_alignment, 0u);
    }
    EXPECT_THROW((aligned_pool{block_spec{64, 128}}), std::invalid_argument);
    EXPECT_THROW((aligned_pool{block_spec{64, 48}}), std::invalid_argument);
}

TEST(AlignedPool, ZeroOnReleaseWipesBlocks) {
    constexpr std::size_t size = 256;
    aligned_pool pool(block_spec{size, 32}, {.zero_on_release = true});
    auto* a = static_cast<unsigned char*>(pool.allocate(size));
    EXPECT_TRUE(std::all_of(a, a + size, [](unsigned char c) { return c == 0; }));
    std::memset(a, 0xab, size);
    pool.deallocate(a, size);
    auto* again = static_cast<unsigned char*>(pool.allocate(size));
    ASSERT_EQ(again, a);
    EXPECT_TRUE(std::all_of(again, again + size, [](unsigned char c) { return c == 0; }));
}

TEST(AlignedPool, WithoutZeroingContentsSurviveRelease) {
    constexpr std::size_t size = 256;
    aligned_pool pool(block_spec{size, 32}, {.zero_on_release = false});
    auto* a = static_cast<unsigned char*>(pool.allocate(size));
    std::memset(a, 0xab, size);
    pool.deallocate(a, size);
    auto* again = static_cast<unsigned char*>(pool.allocate(size));
    ASSERT_EQ(again, a);
    // All but the free-list link, which lived in the first pointer-sized bytes.
    EXPECT_TRUE(std::all_of(again + sizeof(void*), again + size, [](unsigned char c) { return c == 0xab; }));
}

TEST(AlignedPool, StatisticsAreExactAndRandomChurnKeepsBlocksApart) {
    constexpr std::size_t size = 384 * sizeof(float);
    aligned_pool pool(block_spec{size, 64}, {.zero_on_release = true});
    std::mt19937_64 random(7);
    std::vector<span> live;
    std::size_t allocations = 0, reuses_expected = 0, freed = 0;
    for (int step = 0; step < 20'000; ++step) {
        if (!live.empty() && random() % 2 == 0) {
            std::size_t i = random() % live.size();
            ASSERT_TRUE(intact(live[i]));
            pool.deallocate(live[i].data, size);
            live[i] = live.back();
            live.pop_back();
            ++freed;
        } else {
            auto* p = static_cast<unsigned char*>(pool.allocate(size));
            ASSERT_EQ(address(p) % 64, 0u);
            ASSERT_EQ(p[size / 2], 0) << "a block handed out is not zero";
            if (freed > 0) {
                --freed;
                ++reuses_expected;
            }
            ++allocations;
            live.push_back({p, size, static_cast<unsigned char>(random() | 1)});
            fill(live.back());
        }
    }
    expect_disjoint_and_intact(live);
    const auto s = pool.statistics();
    EXPECT_EQ(s.allocations, allocations);
    EXPECT_EQ(s.reuses, reuses_expected);
    EXPECT_EQ(s.live_blocks, live.size());
    // Fresh blocks were carved from the arena, with at most 48 bytes of padding per chunk.
    const std::size_t fresh = allocations - reuses_expected;
    EXPECT_GE(s.carving.bytes_used, fresh * size);
    EXPECT_LE(s.carving.bytes_used, fresh * size + 48 * s.carving.chunks);
    for (const auto& b : live) pool.deallocate(b.data, size);
    EXPECT_EQ(pool.statistics().live_blocks, 0u);
}

// ---- budget_pools --------------------------------------------------------------------------------

budgets::options small_limits(std::size_t query, std::size_t cache, std::size_t temp) {
    budgets::options o;
    o.pools[0].limit_bytes = query;
    o.pools[1].limit_bytes = cache;
    o.pools[2].limit_bytes = temp;
    return o;
}

TEST(BudgetPools, DefaultsAreTheSeedsAndTheSmallestHoldingBlockServes) {
    budget_pools pools(block_spec{64, 16});
    EXPECT_EQ(pools.serving_pool(), budgets::pool_id::temp);
    const auto query = pools.statistics(budgets::pool_id::query);
    EXPECT_EQ(query.name, "query");
    EXPECT_EQ(query.limit_bytes, std::size_t{50} << 20);
    EXPECT_EQ(query.block_size, 8192u);
    EXPECT_EQ(pools.statistics(budgets::pool_id::cache).limit_bytes, std::size_t{100} << 20);
    EXPECT_EQ(pools.statistics(budgets::pool_id::cache).block_size, 4096u);
    EXPECT_EQ(pools.statistics(budgets::pool_id::temp).limit_bytes, std::size_t{25} << 20);
    EXPECT_EQ(pools.statistics(budgets::pool_id::temp).block_size, 1024u);

    EXPECT_EQ(budget_pools(block_spec{1024, 16}).serving_pool(), budgets::pool_id::temp);
    EXPECT_EQ(budget_pools(block_spec{1025, 16}).serving_pool(), budgets::pool_id::cache);
    EXPECT_EQ(budget_pools(block_spec{4096, 64}).serving_pool(), budgets::pool_id::cache);
    EXPECT_EQ(budget_pools(block_spec{4097, 16}).serving_pool(), budgets::pool_id::query);
    EXPECT_THROW((budget_pools{block_spec{8193, 16}}), std::invalid_argument);
    EXPECT_THROW((budget_pools{block_spec{64, 128}}), std::invalid_argument);
}

TEST(BudgetPools, StatisticsAreExactOnAKnownSequence) {
    budget_pools pools(block_spec{100, 64}, small_limits(1 << 20, 1 << 20, 16 << 10));
    std::vector<void*> blocks;
    for (int i = 0; i < 10; ++i) {
        blocks.push_back(pools.allocate(100));
        ASSERT_EQ(address(blocks.back()) % 64, 0u);
    }
    for (int i = 0; i < 4; ++i) pools.deallocate(blocks[i], 100);
    void* reused = pools.allocate(100);
    EXPECT_EQ(reused, blocks[3]);  // last freed, first reused
    void* named = pools.allocate(budgets::pool_id::cache, 4000);
    ASSERT_NE(named, nullptr);
    EXPECT_EQ(pools.allocate(budgets::pool_id::temp, 1025), nullptr);  // larger than a temp block

    const auto temp = pools.statistics(budgets::pool_id::temp);
    EXPECT_EQ(temp.allocations, 11u);
    EXPECT_EQ(temp.frees, 4u);
    EXPECT_EQ(temp.live_blocks, 7u);
    EXPECT_EQ(temp.used_bytes, 7u * 1024);
    EXPECT_EQ(temp.peak_bytes, 10u * 1024);
    EXPECT_EQ(temp.touched_bytes, 10u * 1024);
    EXPECT_EQ(temp.refusals, 1u);
    EXPECT_EQ(temp.oversized, 1u);
    const auto cache = pools.statistics(budgets::pool_id::cache);
    EXPECT_EQ(cache.allocations, 1u);
    EXPECT_EQ(cache.used_bytes, 4096u);
    EXPECT_EQ(pools.statistics(budgets::pool_id::query).allocations, 0u);
    pools.deallocate(budgets::pool_id::cache, named);
    pools.deallocate(reused, 100);
    for (int i = 4; i < 10; ++i) pools.deallocate(blocks[i], 100);
    EXPECT_EQ(pools.statistics(budgets::pool_id::temp).used_bytes, 0u);
}

TEST(BudgetPools, LimitsHoldUnderDemandFromFourThreads) {
    constexpr std::size_t block = 1024, limit_blocks = 64, threads = 4, attempts = 100;
    std::atomic<int> warnings_seen{0};
    auto options = small_limits(1 << 20, 1 << 20, limit_blocks * block);
    options.on_pressure = [&](const budgets::pressure_warning& w) {
        EXPECT_EQ(w.pool, budgets::pool_id::temp);
        EXPECT_GE(w.used_bytes * 5, w.limit_bytes * 4);
        warnings_seen.fetch_add(1);
    };
    budget_pools pools(block_spec{block, 16}, options);
    std::atomic<std::size_t> live{0}, live_peak{0}, refused{0};
    std::vector<std::vector<span>> held(threads);
    std::barrier start(threads), phase_two(threads);
    auto note_live = [&](std::size_t now) {
        std::size_t peak = live_peak.load();
        while (now > peak && !live_peak.compare_exchange_weak(peak, now)) {}
    };
    std::vector<std::thread> workers;
    for (std::size_t t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            std::mt19937_64 random(t);
            auto& mine = held[t];
            start.arrive_and_wait();
            // Phase one: 400 requests against 64 blocks, nothing freed.
            for (std::size_t i = 0; i < attempts; ++i) {
                auto* p = static_cast<unsigned char*>(pools.allocate(block));
                if (p == nullptr) {
                    refused.fetch_add(1);
                    continue;
                }
                note_live(live.fetch_add(1) + 1);
                mine.push_back({p, block, static_cast<unsigned char>(t + 1)});
                fill(mine.back());
            }
            phase_two.arrive_and_wait();
            // Phase two: churn at the limit, each thread freeing its own blocks and asking again
            // (BlocksMayBeFreedByAnotherThread frees across threads).
            for (int step = 0; step < 5000; ++step) {
                if (!mine.empty() && random() % 2 == 0) {
                    std::size_t i = random() % mine.size();
                    ASSERT_TRUE(intact(mine[i]));
                    live.fetch_sub(1);
                    pools.deallocate(mine[i].data, block);
                    mine[i] = mine.back();
                    mine.pop_back();
                } else if (auto* p = static_cast<unsigned char*>(pools.allocate(block))) {
                    note_live(live.fetch_add(1) + 1);
                    mine.push_back({p, block, static_cast<unsigned char>(t + 1)});
                    fill(mine.back());
                } else {
                    refused.fetch_add(1);
                }
            }
        });
    }
    for (auto& w : workers) w.join();

    std::vector<span> all;
    for (auto& h : held) all.insert(all.end(), h.begin(), h.end());
    expect_disjoint_and_intact(all);
    const auto s = pools.statistics(budgets::pool_id::temp);
    EXPECT_LE(live_peak.load(), limit_blocks);
    EXPECT_EQ(s.peak_bytes, limit_blocks * block);  // demand beyond the limit fills it, no more
    EXPECT_EQ(s.refusals, refused.load());
    EXPECT_GE(s.refusals, threads * attempts - limit_blocks);
    EXPECT_EQ(s.live_blocks, all.size());
    EXPECT_EQ(s.allocations - s.frees, all.size());
    EXPECT_EQ(s.touched_bytes, limit_blocks * block);
    EXPECT_GE(s.warnings, 1u);
    EXPECT_EQ(static_cast<std::size_t>(warnings_seen.load()), s.warnings);
    for (const auto& b : all) pools.deallocate(b.data, block);
    EXPECT_EQ(pools.statistics(budgets::pool_id::temp).used_bytes, 0u);
}

TEST(BudgetPools, FirstPhaseOfDemandRefusesExactlyWhatExceedsTheLimit) {
    constexpr std::size_t block = 1024, limit_blocks = 64, threads = 4, attempts = 100;
    std::atomic<int> warnings_seen{0};
    auto options = small_limits(1 << 20, 1 << 20, limit_blocks * block);
    options.on_pressure = [&](const budgets::pressure_warning&) { warnings_seen.fetch_add(1); };
    budget_pools pools(block_spec{block, 16}, options);
    std::vector<std::vector<void*>> held(threads);
    std::barrier start(threads);
    std::vector<std::thread> workers;
    for (std::size_t t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            start.arrive_and_wait();
            for (std::size_t i = 0; i < attempts; ++i) {
                if (void* p = pools.allocate(block)) held[t].push_back(p);
            }
        });
    }
    for (auto& w : workers) w.join();
    std::size_t served = 0;
    for (auto& h : held) served += h.size();
    const auto s = pools.statistics(budgets::pool_id::temp);
    EXPECT_EQ(served, limit_blocks);
    EXPECT_EQ(s.refusals, threads * attempts - limit_blocks);
    EXPECT_EQ(s.used_bytes, limit_blocks * block);
    EXPECT_EQ(s.warnings, 1u);  // one upward crossing of 80%, however many threads
    EXPECT_EQ(warnings_seen.load(), 1);
    for (std::size_t t = 0; t < threads; ++t) {
        for (void* p : held[t]) pools.deallocate(p, block);
    }
}

TEST(BudgetPools, PressureWarningIsRaisedOncePerCrossing) {
    // 10 blocks of 1 KiB: 80% is 8 blocks.
    std::vector<budgets::pressure_warning> events;
    auto options = small_limits(1 << 20, 1 << 20, 10 << 10);
    options.on_pressure = [&](const budgets::pressure_warning& w) { events.push_back(w); };
    budget_pools pools(block_spec{512, 16}, options);
    auto warnings = [&] { return pools.statistics(budgets::pool_id::temp).warnings; };
    std::vector<void*> blocks;
    for (int i = 0; i < 7; ++i) blocks.push_back(pools.allocate(512));
    EXPECT_EQ(warnings(), 0u);
    EXPECT_FALSE(pools.statistics(budgets::pool_id::temp).under_pressure);
    blocks.push_back(pools.allocate(512));  // the 8th: 80%
    EXPECT_EQ(warnings(), 1u);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].name, "temp");
    EXPECT_EQ(events[0].used_bytes, 8u << 10);
    EXPECT_EQ(events[0].limit_bytes, 10u << 10);
    blocks.push_back(pools.allocate(512));
    blocks.push_back(pools.allocate(512));
    EXPECT_EQ(pools.allocate(512), nullptr);  // the 11th is refused
    EXPECT_EQ(warnings(), 1u);
    EXPECT_EQ(pools.statistics(budgets::pool_id::temp).refusals, 1u);

    // Down to 7 blocks (below 80%) and back up: a second crossing, a second warning.
    for (int i = 0; i < 3; ++i) {
        pools.deallocate(blocks.back(), 512);
        blocks.pop_back();
    }
    EXPECT_FALSE(pools.statistics(budgets::pool_id::temp).under_pressure);
    blocks.push_back(pools.allocate(512));
    EXPECT_EQ(warnings(), 2u);
    // Back and forth across the line: one warning each time it is crossed upwards.
    for (int i = 0; i < 3; ++i) {
        pools.deallocate(blocks.back(), 512);
        blocks.pop_back();
        blocks.push_back(pools.allocate(512));
    }
    EXPECT_EQ(warnings(), 5u);
    EXPECT_EQ(events.size(), 5u);
    for (void* b : blocks) pools.deallocate(b, 512);
}

TEST(BudgetPools, ZeroLimitRefusesEverythingWithoutCrashing) {
    budget_pools pools(block_spec{64, 16}, small_limits(0, 0, 0));
    for (int i = 0; i < 10; ++i) EXPECT_EQ(pools.allocate(64), nullptr);
    EXPECT_EQ(pools.statistics(budgets::pool_id::temp).refusals, 10u);
    EXPECT_EQ(pools.statistics(budgets::pool_id::temp).warnings, 0u);
}

std::atomic<std::int64_t> fake_now{0};
std::int64_t fake_clock() { return fake_now.load(); }

TEST(BudgetPools, OldBlockReportFindsAPlantedLeakAndNothingOnACleanRun) {
    using namespace std::chrono_literals;
    auto options = small_limits(1 << 20, 1 << 20, 1 << 20);
    options.clock = &fake_clock;
    fake_now = 1'000'000'000;
    budget_pools pools(block_spec{64, 16}, options);
    std::vector<void*> temp, cache;
    for (int i = 0; i < 5; ++i) temp.push_back(pools.allocate(64));
    for (int i = 0; i < 3; ++i) cache.push_back(pools.allocate(budgets::pool_id::cache, 64));
    void* leak = cache[1];
    // A clean run: every block freed.
    for (void* b : temp) pools.deallocate(b, 64);
    for (void* b : cache) {
        if (b != leak) pools.deallocate(budgets::pool_id::cache, b);
    }
    fake_now += 250'000'000'000;  // 250 s later
    EXPECT_TRUE(pools.blocks_older_than(300s).empty());
    void* recent = pools.allocate(64);  // allocated at 250 s
    fake_now += 51'000'000'000;         // 301 s after the leak
    auto old = pools.blocks_older_than(300s);
    ASSERT_EQ(old.size(), 1u);
    EXPECT_EQ(old[0].block, leak);
    EXPECT_EQ(old[0].pool, budgets::pool_id::cache);
    EXPECT_EQ(old[0].age, 301s);
    EXPECT_EQ(pools.blocks_older_than(50s).size(), 2u);  // the recent one is 51 s old
    pools.deallocate(budgets::pool_id::cache, leak);
    pools.deallocate(recent, 64);
    EXPECT_TRUE(pools.blocks_older_than(0s).empty());
}

TEST(BudgetPools, AgeTrackingCanBeTurnedOff) {
    auto options = small_limits(1 << 20, 1 << 20, 1 << 20);
    options.track_ages = false;
    options.clock = &fake_clock;
    budget_pools pools(block_spec{64, 16}, options);
    void* kept = pools.allocate(64);
    fake_now += 1'000'000'000'000;
    EXPECT_FALSE(pools.tracks_ages());
    EXPECT_TRUE(pools.blocks_older_than(std::chrono::nanoseconds(0)).empty());
    pools.deallocate(kept, 64);
}

TEST(BudgetPools, RealClockReportsOnlyBlocksOlderThanTheThreshold) {
    budget_pools pools(block_spec{64, 16}, small_limits(1 << 20, 1 << 20, 1 << 20));
    void* kept = pools.allocate(64);
    EXPECT_TRUE(pools.blocks_older_than(std::chrono::hours(1)).empty());
    const auto old = pools.blocks_older_than(std::chrono::nanoseconds(-1));
    ASSERT_EQ(old.size(), 1u);
    EXPECT_EQ(old[0].block, kept);
    pools.deallocate(kept, 64);
}

TEST(BudgetPools, BlocksMayBeFreedByAnotherThread) {
    budget_pools pools(block_spec{256, 16}, small_limits(1 << 20, 1 << 20, 256 << 10));
    constexpr int rounds = 50, per_round = 100;
    for (int round = 0; round < rounds; ++round) {
        std::vector<span> made;
        std::thread producer([&] {
            for (int i = 0; i < per_round; ++i) {
                auto* p = static_cast<unsigned char*>(pools.allocate(256));
                ASSERT_NE(p, nullptr);
                made.push_back({p, 256, static_cast<unsigned char>(i + 1)});
                fill(made.back());
            }
        });
        producer.join();
        std::thread consumer([&] {
            for (const auto& s : made) {
                ASSERT_TRUE(intact(s));
                pools.deallocate(s.data, 256);
            }
        });
        consumer.join();
    }
    const auto s = pools.statistics(budgets::pool_id::temp);
    EXPECT_EQ(s.allocations, static_cast<std::size_t>(rounds * per_round));
    EXPECT_EQ(s.frees, static_cast<std::size_t>(rounds * per_round));
    EXPECT_EQ(s.peak_bytes, static_cast<std::size_t>(per_round) * 1024);
    EXPECT_EQ(s.touched_bytes, static_cast<std::size_t>(per_round) * 1024);  // the same blocks reused
}

}  // namespace
