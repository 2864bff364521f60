// budget_pressure — N threads sharing one strategy instance demand more temporary blocks than a
// budgeted pool allows: its limit must hold, refusals are counted, the 80% warning fires, and the
// work goes on.
//
// Models: seed 001's MemoryManager under load (claim P1-3): its temp pool (25 MB of 1 KB blocks)
// shared by the threads of a server, each thread holding a growing set of temporaries (64 B ..
// 1 KiB, log-uniform) that it then releases oldest first: its live set rises to working_set
// blocks and drains to zero, again and again. working_set is above the pool's 25,600 blocks, so
// even one thread asks for more than the budget, and N threads ask N times as much.
// A refused request (nullptr: only strategies with traits.may_refuse, i.e. budget_pools) is
// served by ::operator new instead — a spill, as a caller that degrades rather than fails would
// do — so every strategy does the same logical work and computes the same digest; the refusals
// are counted by the worker (refusals()) and by the pool's statistics. Other strategies serve
// everything. Every byte of a block is written at allocation and read back into the digest at
// release.
// Does not model: the seed's query and cache pools (the blocks interface reaches the one pool that
// serves the block size), callers that fail or wait on a refusal, or cross-thread frees.
// What the harness does not see, tests/test_budget_pressure.cpp checks with budget_pools: usage
// sampled during the run never exceeds the limit, refusals > 0, the 80% warning fires.
//
// Claims: P1-3 (limit enforcement, rejections, 80% warnings, survival under demand).
#pragma once

#include "allocproof/registry.hpp"
#include "allocproof/strategy.hpp"
#include "allocproof/workload.hpp"
#include "workloads/support/block_contents.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace allocproof::workloads {

struct budget_pressure {
    static constexpr workload_traits traits{
        .name = "budget_pressure",
        .summary = "threads sharing one pool demand more 64 B..1 KiB temporaries than its 25 MiB budget",
        .quick_scale = {.ops_per_thread = 56'000, .working_set = 28'000, .warmup_ops = 5'600},
        .default_scale = {.ops_per_thread = 168'000, .working_set = 28'000, .warmup_ops = 16'800},
        .test_scale = {.ops_per_thread = 30'000, .working_set = 26'000, .warmup_ops = 0},
        .families = "blocks",
        .claims = "P1-3",
    };

    static constexpr std::size_t block_bytes = 1024;  // budget_pools: its temp pool
    static constexpr std::size_t min_request = 64;
    static constexpr std::size_t alignment = 16;

    template <class S>
    static constexpr bool accepts =
        S::traits.provides_blocks&& S::traits.frees_individually&& S::traits.thread_safe&& S::traits.max_alignment >=
        alignment;

    // The one instance every thread of the cell allocates from.
    template <class S>
    class shared {
    public:
        explicit shared(const workload_params&) : strategy_(block_spec{block_bytes, alignment}) {}
        S& strategy() { return strategy_; }
        const S& strategy() const { return strategy_; }

    private:
        S strategy_;
    };

    template <class S>
    class worker {
    public:
        worker(const workload_params& params, unsigned thread_index, shared<S>& common)
            : random_(thread_seed(params.seed, thread_index)),
              pool_(common.strategy()),
              held_(std::max<std::uint64_t>(params.scale.working_set, 1)) {}

        worker(const worker&) = delete;
        worker& operator=(const worker&) = delete;

        // The live set rises by one block per operation to working_set, then falls to zero.
        void operation(std::uint64_t index) {
            if (index % (2 * held_.size()) < held_.size()) {
                acquire();
            } else {
                release();
            }
        }

        std::uint64_t finish() {
            while (count_ > 0) release();
            return digest_;
        }

        std::size_t live_bytes() const { return live_bytes_; }
        std::size_t live_bytes_peak() const { return live_bytes_peak_; }
        std::uint64_t refusals() const { return refusals_; }

    private:
        struct block {
            std::uint64_t* words = nullptr;
            std::uint32_t bytes = 0;
            bool spilled = false;
        };

        void acquire() {
            const std::size_t low = min_request << random_.below(4);  // 64 .. 512
            const std::size_t bytes = std::min(block_bytes, (low + random_.below(low) + 7) & ~std::size_t{7});
            block b{static_cast<std::uint64_t*>(pool_.allocate(bytes)), static_cast<std::uint32_t>(bytes), false};
            if constexpr (S::traits.may_refuse) {
                if (b.words == nullptr) [[unlikely]] {
                    b.words = static_cast<std::uint64_t*>(::operator new(bytes));
                    b.spilled = true;
                    ++refusals_;
                }
            }
            support::fill(b.words, bytes, random_.next());
            held_[(head_ + count_) % held_.size()] = b;
            ++count_;
            live_bytes_ += bytes;
            live_bytes_peak_ = std::max(live_bytes_peak_, live_bytes_);
        }

        void release() {
            if (count_ == 0) return;
            block& b = held_[head_];
            head_ = (head_ + 1) % held_.size();
            --count_;
            digest_ = digest_fold(digest_, support::read_back(b.words, b.bytes));
            if (b.spilled) {
                ::operator delete(b.words, b.bytes);
            } else {
                pool_.deallocate(b.words, b.bytes);
            }
            live_bytes_ -= b.bytes;
            b = {};
        }

        split_mix random_;
        S& pool_;
        std::vector<block> held_;  // a ring, oldest at head_
        std::size_t head_ = 0;
        std::size_t count_ = 0;
        std::uint64_t refusals_ = 0;
        std::uint64_t digest_ = 0;
        std::size_t live_bytes_ = 0;
        std::size_t live_bytes_peak_ = 0;
    };
};

}  // namespace allocproof::workloads

ALLOCPROOF_REGISTER_WORKLOAD(allocproof::workloads::budget_pressure)
