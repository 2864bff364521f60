// Every registered strategy, whatever it is, keeps the contract of allocproof/strategy.hpp:
// live blocks never overlap, they are aligned as asked, their contents survive other calls,
// and freed blocks can be handed out again. A new strategy file is tested here with no edit.
#include "allocproof/registry.hpp"

#include "canary_block.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
// From the sanitizers' allocator interface (LLVM's <sanitizer/allocator_interface.h>, which GCC 12
// does not ship; its libasan exports the function): nonzero if p is a live block malloc returned.
extern "C" int __sanitizer_get_ownership(const volatile void* p);
#endif

using allocproof::block_spec;
using allocproof::registry;

namespace {

using live_block = allocproof::testing::canary_block;
using allocproof::testing::fill;
using allocproof::testing::intact;

void expect_disjoint(std::vector<live_block> blocks, const std::string& what) {
    std::sort(blocks.begin(), blocks.end(), [](auto& a, auto& b) { return a.data < b.data; });
    for (std::size_t i = 1; i < blocks.size(); ++i) {
        ASSERT_LE(blocks[i - 1].data + blocks[i - 1].size, blocks[i].data) << what << ": blocks overlap";
    }
}

class StrategyConformance : public ::testing::TestWithParam<std::string> {};

TEST_P(StrategyConformance, LiveBlocksAreDisjointAlignedAndKeepTheirContents) {
    const auto& reg = registry::instance();
    const auto* traits = reg.find_strategy(GetParam());
    ASSERT_NE(traits, nullptr);
    for (std::size_t size : {8u, 64u, 256u, 1000u}) {
        for (std::size_t alignment : {std::size_t{8}, std::size_t{16}}) {
            if (alignment > traits->max_alignment) continue;
            SCOPED_TRACE(GetParam() + " size " + std::to_string(size) + " align " + std::to_string(alignment));
            auto strategy = reg.make_strategy(GetParam(), block_spec{size, alignment});
            std::mt19937_64 random(size * 31 + alignment);
            std::vector<live_block> live;
            auto allocate = [&] {
                auto* p = static_cast<unsigned char*>(strategy->allocate(size));
                ASSERT_NE(p, nullptr);
                ASSERT_EQ(reinterpret_cast<std::uintptr_t>(p) % alignment, 0u);
                live.push_back({p, size, static_cast<unsigned char>(random() | 1)});
                fill(live.back());
            };
            for (int i = 0; i < 5000; ++i) allocate();
            expect_disjoint(live, "after filling");
            if (!traits->frees_individually) continue;
            // Free half at random, allocate again: reuse must not hand out a live block.
            std::shuffle(live.begin(), live.end(), random);
            for (std::size_t i = 0; i < 2500; ++i) {
                ASSERT_TRUE(intact(live.back())) << "a block's contents changed while it was live";
                strategy->deallocate(live.back().data, size);
                live.pop_back();
            }
            for (int i = 0; i < 2500; ++i) allocate();
            expect_disjoint(live, "after reuse");
            for (const auto& b : live) ASSERT_TRUE(intact(b)) << "a block's contents changed while it was live";
            for (const auto& b : live) strategy->deallocate(b.data, size);
        }
    }
}

TEST_P(StrategyConformance, FreedBlocksAreReused) {
    const auto& reg = registry::instance();
    if (!reg.find_strategy(GetParam())->frees_individually) GTEST_SKIP() << "frees only on reset";
    auto strategy = reg.make_strategy(GetParam(), block_spec{64, 16});
#if defined(__SANITIZE_ADDRESS__)
    // AddressSanitizer's malloc holds freed blocks in quarantine on purpose, to catch a use
    // after free; a strategy that gives its blocks straight back to malloc (the baseline, and
    // decorators of it such as `tracking`) cannot reuse them soon under it. Such a block is a
    // malloc block while live and a freed one after deallocate(); a pool's block is either
    // inside a malloc block, or stays allocated after deallocate().
    {
        void* probe = strategy->allocate(64);
        const bool malloc_block = __sanitizer_get_ownership(probe) != 0;
        strategy->deallocate(probe, 64);
        if (malloc_block && __sanitizer_get_ownership(probe) == 0) {
            GTEST_SKIP() << "blocks go back to malloc: its quarantine under ASan";
        }
    }
#endif
    // After a warm-up that has the strategy hold its memory, a steady alloc/free cycle must keep
    // coming back to a small set of addresses, not walk through fresh memory.
    std::vector<void*> seen;
    for (int i = 0; i < 1000; ++i) {
        void* p = strategy->allocate(64);
        if (std::find(seen.begin(), seen.end(), p) == seen.end()) seen.push_back(p);
        strategy->deallocate(p, 64);
    }
    EXPECT_LE(seen.size(), 8u);
}

#if defined(__SANITIZE_ADDRESS__)
// Pools poison what they hold but have not handed out, so a use after free in a workload is
// caught inside a pool as it is inside malloc.
TEST_P(StrategyConformance, UseAfterFreeIsCaughtByAddressSanitizer) {
    const auto& reg = registry::instance();
    if (!reg.find_strategy(GetParam())->frees_individually) GTEST_SKIP() << "frees only on reset";
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    auto strategy = reg.make_strategy(GetParam(), block_spec{64, 16});
    void* keep = strategy->allocate(64);  // so that the freed block is not the pool's only one
    auto* block = static_cast<volatile unsigned char*>(strategy->allocate(64));
    strategy->deallocate(const_cast<unsigned char*>(block), 64);
    EXPECT_DEATH(block[32] = 1, "AddressSanitizer");
    strategy->deallocate(keep, 64);
}
#endif

std::vector<std::string> all_strategy_names() {
    std::vector<std::string> names;
    for (const auto& s : registry::instance().strategies()) {
        if (s.provides_blocks) names.emplace_back(s.name);
    }
    return names;
}

INSTANTIATE_TEST_SUITE_P(AllStrategies, StrategyConformance, ::testing::ValuesIn(all_strategy_names()),
                         [](const auto& instance) { return instance.param; });

}  // namespace
