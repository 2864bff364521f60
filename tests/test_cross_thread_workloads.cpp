// The cross-thread workloads (larson, producer_consumer) at thread counts the generic digest test
// does not run (3, 4, 8; odd counts leave producer_consumer a thread without a partner): every
// block is freed exactly once, frees cross threads where the workload says they do, no run
// deadlocks, and digests still agree across strategies.
#include "allocproof/cell.hpp"
#include "allocproof/registry.hpp"
#include "allocproof/cell_runner.hpp"
#include "workloads/larson.hpp"
#include "workloads/producer_consumer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <unordered_map>

using namespace allocproof;

namespace {

// A thread-safe blocks strategy that keeps a ledger of every live block and the thread that
// allocated it: a free of a block not live (double or foreign free) and a block never freed show.
class ledger_blocks {
public:
    static constexpr strategy_traits traits{.name = "ledger_blocks",
                                            .summary = "test double: ledger of live blocks",
                                            .origin = "test",
                                            .thread_safe = true,
                                            .cross_thread_free = true};

    struct ledger {
        std::mutex mutex;
        std::unordered_map<void*, std::thread::id> live;
        std::uint64_t allocations = 0;
        std::uint64_t frees = 0;
        std::uint64_t cross_thread_frees = 0;
        std::uint64_t unknown_frees = 0;
    };

    static ledger& book() {
        static ledger instance;
        return instance;
    }

    static void clear() {
        ledger& l = book();
        std::lock_guard lock(l.mutex);
        l.live.clear();
        l.allocations = l.frees = l.cross_thread_frees = l.unknown_frees = 0;
    }

    explicit ledger_blocks(const block_spec&) {}

    void* allocate(std::size_t bytes) {
        void* block = ::operator new (bytes, std::align_val_t{16});
        ledger& l = book();
        std::lock_guard lock(l.mutex);
        l.live.emplace(block, std::this_thread::get_id());
        ++l.allocations;
        return block;
    }

    void deallocate(void* block, std::size_t) {
        {
            ledger& l = book();
            std::lock_guard lock(l.mutex);
            ++l.frees;
            auto found = l.live.find(block);
            if (found == l.live.end()) {
                ++l.unknown_frees;
                return;  // not ours to delete
            }
            if (found->second != std::this_thread::get_id()) ++l.cross_thread_frees;
            l.live.erase(found);
        }
        ::operator delete (block, std::align_val_t{16});
    }
};

template <class W>
cell_request request_for(unsigned threads) {
    cell_request r;
    r.workload = std::string(W::traits.name);
    r.strategy = "ledger_blocks";
    r.params.scale = W::traits.test_scale;
    r.params.threads = threads;
    r.sample_every = 64;
    return r;
}

template <class W>
ledger_blocks::ledger& run_with_ledger(unsigned threads) {
    ledger_blocks::clear();
    auto m = run_cell<W, ledger_blocks>(request_for<W>(threads));
    EXPECT_GT(m.live_bytes_peak, 0u) << W::traits.name << " at " << threads << " threads";
    return ledger_blocks::book();
}

std::uint64_t digest_of(std::string_view workload, const std::string& strategy, unsigned threads) {
    const workload_traits& w = *registry::instance().find_workload(workload);
    cell_request r;
    r.workload = std::string(workload);
    r.strategy = strategy;
    r.params.scale = w.test_scale;
    r.params.threads = threads;
    r.sample_every = 64;
    const cell_entry* cell = registry::instance().find_cell(workload, strategy);
    EXPECT_NE(cell, nullptr) << workload << " x " << strategy;
    return cell == nullptr ? 0 : cell->measure(r).digest;
}

constexpr unsigned thread_counts[] = {1, 2, 3, 4, 8};

}  // namespace

TEST(CrossThreadWorkloads, LarsonFreesEveryBlockOnceAndInheritedOnesOnOtherThreads) {
    using W = workloads::larson;
    const workload_scale s = W::traits.test_scale;
    for (unsigned threads : thread_counts) {
        ledger_blocks::ledger& l = run_with_ledger<W>(threads);
        const std::uint64_t made = threads * (s.working_set + s.warmup_ops + s.ops_per_thread);
        EXPECT_EQ(l.allocations, made) << threads << " threads";
        EXPECT_EQ(l.frees, made) << threads << " threads";
        EXPECT_EQ(l.unknown_frees, 0u) << threads << " threads";
        EXPECT_TRUE(l.live.empty()) << threads << " threads";
        if (threads == 1) {
            EXPECT_EQ(l.cross_thread_frees, 0u);
        } else {
            // Each thread inherits working_set blocks per hand-off; most are freed in the round.
            const std::uint64_t handoffs = (s.warmup_ops + s.ops_per_thread - 1) / (4 * s.working_set);
            ASSERT_GE(handoffs, 2u) << "the test scale must make threads trade slot arrays";
            EXPECT_GT(l.cross_thread_frees, threads * handoffs * s.working_set / 2) << threads << " threads";
        }
    }
}

TEST(CrossThreadWorkloads, ProducerConsumerFreesEveryBlockOnceOnTheConsumer) {
    using W = workloads::producer_consumer;
    const workload_scale s = W::traits.test_scale;
    const std::uint64_t per_thread = s.warmup_ops + s.ops_per_thread;
    for (unsigned threads : thread_counts) {
        ledger_blocks::ledger& l = run_with_ledger<W>(threads);
        const unsigned pairs = threads / 2;
        const unsigned alone = threads % 2;  // the last thread of an odd count does both
        const std::uint64_t made = (pairs + alone) * per_thread;
        EXPECT_EQ(l.allocations, made) << threads << " threads";
        EXPECT_EQ(l.frees, made) << threads << " threads";
        EXPECT_EQ(l.unknown_frees, 0u) << threads << " threads";
        EXPECT_TRUE(l.live.empty()) << threads << " threads";
        EXPECT_EQ(l.cross_thread_frees, pairs * per_thread) << threads << " threads";
    }
}

TEST(CrossThreadWorkloads, DigestsAgreeAcrossStrategiesAtMoreThreads) {
    for (std::string_view workload : {"larson", "producer_consumer"}) {
        for (unsigned threads : {3u, 4u}) {
            const std::uint64_t baseline = digest_of(workload, "std", threads);
            for (const char* strategy : {"fixed_pool_mt", "mutex_pool", "pmr_sync_pool"}) {
                EXPECT_EQ(digest_of(workload, strategy, threads), baseline)
                    << workload << " x " << strategy << " at " << threads << " threads";
            }
        }
    }
}
