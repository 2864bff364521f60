// The checks a strategy passes before it is measured (harness/conformance.hpp) and the alignment
// check every cell makes (allocproof/checked_blocks.hpp): every built-in strategy passes them, at
// every alignment it declares, and the thread-safe ones pass the stress check (under the
// ThreadSanitizer build too, where it is what tests the built-ins' thread safety with blocks
// handed between threads); and each check catches the fault it is for.
#include "allocproof/checked_blocks.hpp"
#include "allocproof/registry.hpp"
#include "harness/conformance.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

using allocproof::block_spec;
using allocproof::erased_strategy;
using allocproof::registry;
using allocproof::strategy_traits;
namespace conformance = allocproof::conformance;

namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t stress_blocks = 5'000;  // the sanitizers slow every call tenfold
#else
constexpr std::uint64_t stress_blocks = 20'000;
#endif

conformance::strategy_maker maker_of(const std::string& name) {
    return [name](const block_spec& spec) { return registry::instance().make_strategy(name, spec); };
}

std::string describe(const std::optional<conformance::failure>& found) {
    return found ? found->check + ": " + found->what : "passed";
}

class BuiltIn : public ::testing::TestWithParam<std::string> {};

TEST_P(BuiltIn, KeepsTheContractAtEveryAlignmentItDeclares) {
    const strategy_traits& traits = *registry::instance().find_strategy(GetParam());
    const auto found = conformance::check_blocks(traits, maker_of(GetParam()));
    EXPECT_FALSE(found) << describe(found);
}

TEST_P(BuiltIn, PassesTheStressCheckWhenItDeclaresThreadSafety) {
    const strategy_traits& traits = *registry::instance().find_strategy(GetParam());
    if (!traits.thread_safe) GTEST_SKIP() << "not thread-safe: one thread at a time";
    const auto found = conformance::stress_check(
        traits, maker_of(GetParam()),
        {.threads = 4, .blocks_per_thread = stress_blocks, .min_duration = std::chrono::milliseconds(50)});
    EXPECT_FALSE(found) << describe(found);
}

std::vector<std::string> blocks_strategies() {
    std::vector<std::string> names;
    for (const auto& s : registry::instance().strategies()) {
        if (s.provides_blocks) names.emplace_back(s.name);
    }
    return names;
}

INSTANTIATE_TEST_SUITE_P(Strategies, BuiltIn, ::testing::ValuesIn(blocks_strategies()),
                         [](const auto& instance) { return instance.param; });

// ---- each check catches its fault ---------------------------------------------------------------

constexpr strategy_traits double_traits(std::size_t max_alignment = 16) {
    return {.name = "double", .summary = "", .origin = "test", .max_alignment = max_alignment};
}

// The global heap, with a fault added by the subclass.
class heap_blocks : public erased_strategy {
public:
    void* allocate(std::size_t bytes) override { return ::operator new (bytes + 64, std::align_val_t{64}); }
    void deallocate(void* block, std::size_t bytes) override {
        ::operator delete (block, bytes + 64, std::align_val_t{64});
    }
};

// Blocks 8 bytes past a 64-byte boundary.
class shifted_blocks final : public heap_blocks {
public:
    void* allocate(std::size_t bytes) override { return static_cast<std::byte*>(heap_blocks::allocate(bytes)) + 8; }
    void deallocate(void* block, std::size_t bytes) override {
        heap_blocks::deallocate(static_cast<std::byte*>(block) - 8, bytes);
    }
};

// A ring of 64 slots handed out round-robin, live or not.
class ring_blocks final : public erased_strategy {
public:
    void* allocate(std::size_t) override { return ring_.data() + (next_++ % 64) * 1024; }
    void deallocate(void*, std::size_t) override {}

private:
    alignas(64) std::array<std::byte, 64 * 1024> ring_{};
    std::size_t next_ = 0;
};

// Freeing a block writes a word into the one after it.
class scribbling_blocks final : public erased_strategy {
public:
    explicit scribbling_blocks(std::size_t size) : stride_((size + 15) / 16 * 16), arena_(stride_ * 20'000) {}
    void* allocate(std::size_t) override {
        void* block = arena_.data() + used_;
        used_ += stride_;
        return block;
    }
    void deallocate(void* block, std::size_t) override {
        const std::uint64_t poison = 0xDEADBEEFDEADBEEFULL;
        std::memcpy(static_cast<std::byte*>(block) + stride_, &poison, sizeof poison);
    }

private:
    std::size_t stride_;
    std::vector<std::byte> arena_;
    std::size_t used_ = 0;
};

// Frees nothing it hands out, while declaring frees_individually.
class bump_blocks final : public erased_strategy {
public:
    void* allocate(std::size_t bytes) override {
        blocks_.push_back(std::make_unique<std::byte[]>(bytes));
        return blocks_.back().get();
    }
    void deallocate(void*, std::size_t) override {}

private:
    std::vector<std::unique_ptr<std::byte[]>> blocks_;
};

template <class Double, class... Args>
conformance::strategy_maker make_double(Args... args) {
    return [=](const block_spec&) { return std::make_unique<Double>(args...); };
}

TEST(ConformanceChecks, CatchABlockLessAlignedThanDeclared) {
    const auto found = conformance::check_blocks(double_traits(64), make_double<shifted_blocks>());
    ASSERT_TRUE(found);
    EXPECT_EQ(found->check, "alignment") << found->what;
    EXPECT_NE(found->what.find("aligned to 8 bytes"), std::string::npos) << found->what;
}

TEST(ConformanceChecks, CatchLiveBlocksThatOverlap) {
    const auto found = conformance::check_blocks(double_traits(), make_double<ring_blocks>());
    ASSERT_TRUE(found);
    EXPECT_EQ(found->check, "disjoint blocks") << found->what;
}

TEST(ConformanceChecks, CatchAFreeThatWritesIntoALiveBlock) {
    const auto found = conformance::check_blocks(
        double_traits(), [](const block_spec& spec) { return std::make_unique<scribbling_blocks>(spec.size); });
    ASSERT_TRUE(found);
    EXPECT_EQ(found->check, "contents kept") << found->what;
}

TEST(ConformanceChecks, CatchFreedBlocksThatAreNeverHandedOutAgain) {
    const auto found = conformance::check_blocks(double_traits(), make_double<bump_blocks>());
    ASSERT_TRUE(found);
    EXPECT_EQ(found->check, "reuse") << found->what;
}

TEST(ConformanceChecks, AStrategyTheRegistryDoesNotKnowFailsAsSuch) {
    const auto found = conformance::check_strategy("no such strategy");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->check, "registry");
}

TEST(ConformanceChecks, PassTheStdBaselineWithEveryCheckNamed) {
    std::vector<std::string> passed, steps;
    const auto found = conformance::check_strategy(
        allocproof::baseline_strategy, [&](std::string_view step) { steps.emplace_back(step); }, &passed);
    EXPECT_FALSE(found) << describe(found);
    EXPECT_EQ(passed,
              (std::vector<std::string>{"alignment", "disjoint blocks", "contents kept", "reuse", "stress check"}));
    EXPECT_EQ(steps.back(), "stress check");
}

// ---- the alignment check of every cell ------------------------------------------------------------

struct typed_shifted {
    static constexpr strategy_traits traits = double_traits(64);
    explicit typed_shifted(const block_spec&) {}
    void* allocate(std::size_t bytes) { return static_cast<std::byte*>(blocks_.allocate(bytes)) + 8; }
    void deallocate(void* block, std::size_t bytes) { blocks_.deallocate(static_cast<std::byte*>(block) - 8, bytes); }
    heap_blocks blocks_;
};

TEST(CheckedBlocks, EndsTheCellOnAMisalignedBlockWithTheConformanceExitCode) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    allocproof::checked_blocks<typed_shifted> strategy(block_spec{64, 64});
    EXPECT_EXIT(strategy.allocate(64), ::testing::ExitedWithCode(allocproof::exit_conformance_failed),
                "conformance check failed: alignment: strategy 'double' returned a block at 0x[0-9a-f]+, aligned to 8 "
                "bytes, where the block_spec asked for 64");
}

// The same blocks, declaring only what they keep.
struct declares_8 : typed_shifted {
    static constexpr strategy_traits traits = double_traits(8);
    using typed_shifted::typed_shifted;
};

TEST(CheckedBlocks, ChecksOnlyAsMuchAlignmentAsTheStrategyDeclares) {
    // Asked for 64 but declaring 8: its blocks are checked against 8, which they keep.
    allocproof::checked_blocks<declares_8> strategy(block_spec{64, 64});
    void* block = strategy.allocate(64);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(block) % 64, 8u);
    strategy.deallocate(block, 64);
}

// jemalloc's operator new gives an 8-byte request an 8-byte-aligned block: legal, since nothing that
// fits in 8 bytes needs 16. A block is held to the alignment its size can need, no more; the run
// that found it was std on larson under jemalloc, invalid at every cell.
TEST(CheckedBlocks, ABlockNeedsNoMoreAlignmentThanItsSizeCanUse) {
    using allocproof::required_alignment;
    static_assert(required_alignment(8, 16, 16) == 8);
    static_assert(required_alignment(24, 16, 16) == 16);
    static_assert(required_alignment(12, 16, 16) == 8);
    static_assert(required_alignment(1, 16, 16) == 1);
    static_assert(required_alignment(0, 16, 16) == 1);
    static_assert(required_alignment(4096, 64, 16) == 16);
    static_assert(required_alignment(4096, 64, 64) == 64);
    allocproof::checked_blocks<typed_shifted> strategy(block_spec{64, 64});  // 8 bytes past a 16-aligned block
    void* small = strategy.allocate(8);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(small) % 16, 8u);
    strategy.deallocate(small, 8);
}

// The families and reset() reach the workloads unchanged through the check.
struct every_family {
    static constexpr strategy_traits traits{.name = "families",
                                            .summary = "",
                                            .origin = "test",
                                            .provides_vector = true,
                                            .provides_object_pool = true,
                                            .provides_buffers = true};
    template <class T, std::size_t N>
    using vector = std::vector<T>;
    template <class T>
    struct object_pool {};
    struct buffer {};
    explicit every_family(const block_spec&) {}
    void* allocate(std::size_t bytes) { return ::operator new(bytes); }
    void deallocate(void* block, std::size_t bytes) { ::operator delete(block, bytes); }
    void reset() {}
};
using checked_families = allocproof::checked_blocks<every_family>;
static_assert(std::is_same_v<checked_families::vector<int, 4>, std::vector<int>>);
static_assert(std::is_same_v<checked_families::object_pool<int>, every_family::object_pool<int>>);
static_assert(std::is_same_v<checked_families::buffer, every_family::buffer>);
static_assert(allocproof::resettable<checked_families>);
static_assert(!allocproof::resettable<allocproof::checked_blocks<typed_shifted>>);
static_assert(checked_families::traits.name == every_family::traits.name);
static_assert(std::is_same_v<allocproof::measured_strategy<every_family>, checked_families>);

TEST(CheckedBlocks, ForwardsTheBlocksItChecks) {
    checked_families strategy(block_spec{64, 16});
    void* block = strategy.allocate(64);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(block) % 16, 0u);
    strategy.deallocate(block, 64);
    strategy.reset();
}

}  // namespace
