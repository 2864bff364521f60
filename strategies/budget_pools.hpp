// budget_pools: named pools of fixed-size blocks with byte limits, pressure warnings and an
// old-block report. The contract is in the header comment of strategies/budget_pools.cpp.
#pragma once

#include "allocproof/strategy.hpp"
#include "strategies/poison.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <mutex>
#include <thread>
#include <string_view>
#include <vector>

namespace allocproof::strategies {
class budget_pools;
}

namespace allocproof::budgets {

enum class pool_id : std::size_t { query = 0, cache = 1, temp = 2 };
inline constexpr std::size_t pool_count = 3;

struct pool_config {
    std::string_view name;
    std::size_t limit_bytes;  // blocks in use never exceed it: at most limit_bytes / block_size
    std::size_t block_size;   // a power of two, at least 64
};

struct pressure_warning {
    pool_id pool;
    std::string_view name;
    std::size_t used_bytes;  // when the allocation that crossed the threshold was made
    std::size_t limit_bytes;
};

// Nanoseconds on a monotonic clock.
using clock_function = std::int64_t (*)();

struct options {
    // Indexed by pool_id. The seed's figures; "MB" is read as MiB.
    std::array<pool_config, pool_count> pools{{
        {"query", std::size_t{50} << 20, std::size_t{8} << 10},
        {"cache", std::size_t{100} << 20, std::size_t{4} << 10},
        {"temp", std::size_t{25} << 20, std::size_t{1} << 10},
    }};
    // Called once each time a pool's usage crosses from below 80% of its limit to 80% or more,
    // in the allocating thread, after the pool's lock is released; it may be called from several
    // threads at once, and may call back into the pools.
    std::function<void(const pressure_warning&)> on_pressure;
    // A timestamp per live block, for blocks_older_than(); off: no clock read, no report.
    bool track_ages = true;
    // The clock for timestamps; nullptr: CLOCK_MONOTONIC_COARSE (a few ns through the vDSO,
    // 1-4 ms resolution). Tests set their own.
    clock_function clock = nullptr;
};

struct pool_stats {
    std::string_view name;
    std::size_t limit_bytes = 0;
    std::size_t block_size = 0;
    std::size_t used_bytes = 0;  // live blocks x block size
    std::size_t peak_bytes = 0;
    std::size_t live_blocks = 0;
    std::size_t allocations = 0;  // served
    std::size_t frees = 0;
    std::size_t refusals = 0;   // nullptr returned: limit reached, request larger than a block,
                                // or the reservation failed
    std::size_t oversized = 0;  // of which: request larger than a block
    std::size_t warnings = 0;   // upward crossings of 80% of the limit
    bool under_pressure = false;
    std::size_t touched_bytes = 0;  // blocks ever handed out x block size (the part of the
                                    // reservation the pool has written to)
};

struct old_block {
    pool_id pool;
    const void* block;
    std::chrono::nanoseconds age;
};

std::int64_t coarse_monotonic_ns();

// A test-and-set lock that spins briefly, then yields. A pool's critical section is a free-list
// pop or push and a few counters (tens of ns): a futex sleep and wake-up, which std::mutex pays
// as soon as two threads meet, costs far more than waiting it out. Yielding after the spin keeps
// an oversubscribed machine (more threads than cores) from burning the holder's time slice.
class spin_lock {
public:
    void lock() {
        while (locked_.exchange(true, std::memory_order_acquire)) {
            for (int spins = 0; locked_.load(std::memory_order_relaxed); ++spins) {
                if (spins < 128) {
                    pause();
                } else {
                    std::this_thread::yield();
                }
            }
        }
    }
    void unlock() { locked_.store(false, std::memory_order_release); }

private:
    static void pause() {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    std::atomic<bool> locked_{false};
};

// One pool: a reservation of limit_bytes from ::operator new, made at its first allocation,
// carved in block order, freed blocks on an intrusive free list; one spin_lock.
class alignas(64) budget_pool {
public:
    budget_pool(pool_id id, const pool_config& config, std::size_t alignment, bool track_ages);
    budget_pool(const budget_pool&) = delete;
    budget_pool& operator=(const budget_pool&) = delete;
    ~budget_pool();

    // nullptr when refused. `now` is the timestamp (read before the lock, to keep it short).
    void* allocate(std::size_t bytes, std::int64_t now, const strategies::budget_pools& owner) {
        if (bytes > block_size_) [[unlikely]]
            return refuse_oversized();
        std::size_t used;
        bool warn = false;
        std::byte* block;
        {
            std::lock_guard guard(lock_);
            if (free_ != nullptr) {
                block = reinterpret_cast<std::byte*>(free_);
                free_ = free_->next;
            } else if (carved_ < max_blocks_ && region_ != nullptr) {
                block = region_ + (carved_++ << shift_);
            } else {
                block = allocate_slow_locked();
                if (block == nullptr) return nullptr;
            }
            ++live_;
            ++allocations_;
            used = live_ << shift_;
            if (live_ > peak_live_) peak_live_ = live_;
            if (stamps_ != nullptr) stamps_[index(block)] = now;
            if (used >= warn_at_ && !pressure_) [[unlikely]] {
                pressure_ = true;
                ++warnings_;
                warn = true;
            }
        }
        unpoison_memory(block, block_size_);
        if (warn) [[unlikely]]
            notify(owner, used);
        return block;
    }

    void deallocate(void* block) {
        // Off limits at once but for the link; nobody else can reach the block until it is filed.
        poison_memory(static_cast<std::byte*>(block) + sizeof(free_block), block_size_ - sizeof(free_block));
        std::lock_guard guard(lock_);
        auto* freed = static_cast<free_block*>(block);
        freed->next = free_;
        free_ = freed;
        if (stamps_ != nullptr) stamps_[index(block)] = free_stamp;
        --live_;
        ++frees_;
        if (pressure_ && (live_ << shift_) < warn_at_) pressure_ = false;
    }

    pool_stats statistics() const;
    void collect_older_than(std::int64_t now, std::int64_t threshold_ns, std::vector<old_block>& out) const;
    std::size_t block_size() const { return block_size_; }

private:
    struct free_block {
        free_block* next;
    };
    static constexpr std::int64_t free_stamp = std::numeric_limits<std::int64_t>::min();

    std::size_t index(const void* block) const {
        return static_cast<std::size_t>(static_cast<const std::byte*>(block) - region_) >> shift_;
    }
    std::byte* allocate_slow_locked();  // reserve at first use, or refuse at the limit
    void* refuse_oversized();
    void notify(const strategies::budget_pools& owner, std::size_t used) const;

    mutable spin_lock lock_;
    free_block* free_ = nullptr;
    std::byte* region_ = nullptr;
    std::size_t carved_ = 0;  // blocks carved from the region so far
    std::size_t live_ = 0;
    std::size_t peak_live_ = 0;
    std::size_t allocations_ = 0;
    std::size_t frees_ = 0;
    std::size_t refusals_ = 0;
    std::size_t oversized_ = 0;
    std::size_t warnings_ = 0;
    bool pressure_ = false;
    std::int64_t* stamps_ = nullptr;  // per block of the region, free_stamp when not live

    const pool_id id_;
    const std::string_view name_;
    const std::size_t limit_;
    const std::size_t block_size_;
    const unsigned shift_;  // log2(block_size_)
    const std::size_t max_blocks_;
    const std::size_t warn_at_;  // ceil(0.8 * limit)
    const std::size_t alignment_;
    const bool track_ages_;
};

}  // namespace allocproof::budgets

namespace allocproof::strategies {

class budget_pools {
public:
    static constexpr strategy_traits traits{
        .name = "budget_pools",
        .summary = "query/cache/temp pools with byte limits, 80% warnings, refusals, old-block report",
        .origin = "seed 001 (PL-GRIZZLY MemoryManager, ThreadSafeMemoryPool)",
        .provides_blocks = true,
        .frees_individually = true,
        .thread_safe = true,
        .cross_thread_free = true,
        .fixed_size = true,
        .may_refuse = true,
        .max_alignment = 64,
    };

    // The blocks interface is served by the pool with the smallest block size that holds
    // spec.size (the first of equals); none holding it, or a bad alignment, throws
    // std::invalid_argument.
    explicit budget_pools(const block_spec& spec, budgets::options options = {});
    budget_pools(const budget_pools&) = delete;
    budget_pools& operator=(const budget_pools&) = delete;

    // ---- blocks interface: thread-safe; nullptr when the serving pool's budget is spent ------
    void* allocate(std::size_t bytes) { return allocate(serving_, bytes); }
    void deallocate(void* block, std::size_t /*bytes*/) { deallocate(serving_, block); }

    // ---- the named pools: thread-safe ---------------------------------------------------------
    void* allocate(budgets::pool_id pool, std::size_t bytes) {
        return pools_[index(pool)].allocate(bytes, stamp(), *this);
    }
    void deallocate(budgets::pool_id pool, void* block) { pools_[index(pool)].deallocate(block); }

    budgets::pool_id serving_pool() const { return serving_; }
    budgets::pool_stats statistics(budgets::pool_id pool) const { return pools_[index(pool)].statistics(); }
    // Live blocks of every pool allocated more than `threshold` ago (claim P1-5); empty when
    // options.track_ages is off.
    std::vector<budgets::old_block> blocks_older_than(std::chrono::nanoseconds threshold) const;
    bool tracks_ages() const { return options_.track_ages; }

private:
    friend class budgets::budget_pool;

    static std::size_t index(budgets::pool_id pool) { return static_cast<std::size_t>(pool); }
    std::int64_t now() const { return options_.clock != nullptr ? options_.clock() : budgets::coarse_monotonic_ns(); }
    std::int64_t stamp() const { return options_.track_ages ? now() : 0; }

    budgets::options options_;
    budgets::pool_id serving_;
    std::array<budgets::budget_pool, budgets::pool_count> pools_;
};

}  // namespace allocproof::strategies
