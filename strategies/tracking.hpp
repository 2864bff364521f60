// tracked<S> — a decorator that runs any blocks strategy S unchanged and counts what passes through
// it: allocations, deallocations, bytes requested and given back, live bytes and their peak, with
// snapshot() and diff(before, after). The registered strategy `tracking` (tracking.cpp) is
// tracked<global_new_blocks>, the tracking global allocator of seed 004.
//
// What it models:
//   * seed 004 (Rust Logic Graph, "Memory Optimization Guide"): the TrackingAllocator wrapped
//     around System that calls record_alloc(layout.size()) / record_dealloc(layout.size()) on
//     global metrics (total_allocations, current_bytes, peak_bytes); AllocationTracker and
//     MemoryProfiler::snapshot() / after.diff(&before) ("Δ Allocations: +1500, Δ Bytes: +245760
//     (+0.23 MB), Duration: 123.456ms");
//   * seed 000 (Mojo-Grizzly, "Memory Usage Profiling"): MemoryProfiler, which "tracks allocation
//     count and total bytes" and reports them.
// Claims G0-5 and R4-4: the counts must equal ground truth, which the harness has of its own (the
// cell programs' counting operator new, allocproof/alloc_counters.hpp); tests compare the two.
//
// What is counted: every call the caller makes, with the size the caller passes, as the seed's
// allocator records layout.size(); a strategy that may refuse is not counted for a refused call.
// `bytes_requested` is what the caller asked for, not what S rounds it up to. For an S that does
// not free individually (an arena), deallocate() calls are still counted as the caller made them,
// and reset() counts as giving back every live byte.
//
// Thread safety: tracked<S> is exactly as thread-safe as S (its traits are S's). The counters are
// relaxed atomics when S is thread-safe (one instance may be shared, so counts must not be lost;
// no ordering is needed because nothing else is published through them) and plain integers when it
// is not (one thread at a time uses an instance, as the contract says). The peak is raised with a
// compare-exchange only when the live count passes it, so it is the exact maximum of the live
// counter's history even when threads race. A snapshot reads the counters one by one: taken while
// other threads are allocating it is not one instant, taken after they stop (joined) it is exact.
//
// Cost, a measurement trap: per allocation three read-modify-writes (count, bytes, live) and a
// load of the peak; per deallocation two (count, live). With atomics each is a locked instruction
// even when only one thread uses the instance. Seed 004 takes a write lock on ONE global metrics
// object per call, shared by every thread; tracked<S> counts per instance, so threads with their
// own instances (node_churn) measure uncontended counting, and only a shared instance (the micro
// suite's 2t_own and 2t_cross) shows what the seed's one shared lock word would cost.
#pragma once

#include "allocproof/std_baseline.hpp"
#include "allocproof/strategy.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <new>
#include <string>
#include <string_view>

namespace allocproof::strategies {

// The blocks family of the `std` baseline (allocproof/std_baseline.hpp) as a strategy of its own,
// for the tracking decorator to wrap.
class global_new_blocks {
public:
    static constexpr strategy_traits traits{
        .name = "global_new_blocks",
        .summary = "global operator new / sized delete per block (the blocks family of std)",
        .origin = "baseline",
        .frees_individually = true,
        .thread_safe = true,
        .cross_thread_free = true,
    };

    explicit global_new_blocks(const block_spec&) {}
    void* allocate(std::size_t bytes) { return baseline::global_new_blocks_ops::allocate(bytes); }
    void deallocate(void* block, std::size_t bytes) { baseline::global_new_blocks_ops::deallocate(block, bytes); }
};

// Counts at one instant. `taken` is when the snapshot was read (steady clock).
struct tracking_snapshot {
    std::uint64_t allocations = 0;
    std::uint64_t deallocations = 0;
    std::uint64_t bytes_requested = 0;  // summed over allocate() calls
    std::uint64_t bytes_released = 0;   // summed over deallocate() calls, and resets (derived)
    std::uint64_t live_bytes = 0;       // bytes_requested - bytes_released
    std::uint64_t peak_live_bytes = 0;  // the most live_bytes has been
    std::chrono::steady_clock::time_point taken{};
};

// What happened between two snapshots (after - before). Live bytes may fall, so they are signed.
struct tracking_diff {
    std::uint64_t allocations = 0;
    std::uint64_t deallocations = 0;
    std::uint64_t bytes_requested = 0;
    std::uint64_t bytes_released = 0;
    std::int64_t live_bytes = 0;
    std::uint64_t peak_rise = 0;  // how much higher the peak is at `after`
    std::chrono::nanoseconds duration{0};
};

inline tracking_diff diff(const tracking_snapshot& before, const tracking_snapshot& after) {
    return {
        .allocations = after.allocations - before.allocations,
        .deallocations = after.deallocations - before.deallocations,
        .bytes_requested = after.bytes_requested - before.bytes_requested,
        .bytes_released = after.bytes_released - before.bytes_released,
        .live_bytes = static_cast<std::int64_t>(after.live_bytes - before.live_bytes),
        .peak_rise = after.peak_live_bytes - before.peak_live_bytes,
        .duration = std::chrono::duration_cast<std::chrono::nanoseconds>(after.taken - before.taken),
    };
}

// Seed 004's line: "Δ Allocations: +1500, Δ Bytes: +245760 (+0.23 MB), Duration: 123.456ms", where
// Δ Bytes is the change in live bytes.
inline std::string format(const tracking_diff& d) {
    char line[160];
    std::snprintf(line, sizeof line, "Δ Allocations: %+lld, Δ Bytes: %+lld (%+.2f MB), Duration: %.3fms",
                  static_cast<long long>(d.allocations), static_cast<long long>(d.live_bytes),
                  static_cast<double>(d.live_bytes) / (1024.0 * 1024.0), static_cast<double>(d.duration.count()) / 1e6);
    return line;
}

namespace detail {

// A counter that is a plain integer or a relaxed atomic, with the same three operations.
template <bool Shared>
class tracking_counter {
public:
    std::uint64_t add(std::uint64_t n) { return value_ += n; }
    std::uint64_t sub(std::uint64_t n) { return value_ -= n; }
    std::uint64_t load() const { return value_; }
    void raise_to(std::uint64_t candidate) {
        if (candidate > value_) value_ = candidate;
    }

private:
    std::uint64_t value_ = 0;
};

template <>
class tracking_counter<true> {
public:
    std::uint64_t add(std::uint64_t n) { return value_.fetch_add(n, std::memory_order_relaxed) + n; }
    std::uint64_t sub(std::uint64_t n) { return value_.fetch_sub(n, std::memory_order_relaxed) - n; }
    std::uint64_t load() const { return value_.load(std::memory_order_relaxed); }
    void raise_to(std::uint64_t candidate) {
        std::uint64_t seen = value_.load(std::memory_order_relaxed);
        while (candidate > seen && !value_.compare_exchange_weak(seen, candidate, std::memory_order_relaxed)) {}
    }

private:
    std::atomic<std::uint64_t> value_{0};
};

}  // namespace detail

// S::traits with another name, summary and origin, and the blocks family only.
template <class S>
constexpr strategy_traits tracked_traits(std::string_view name, std::string_view summary, std::string_view origin) {
    strategy_traits traits = S::traits;
    traits.name = name;
    traits.summary = summary;
    traits.origin = origin;
    traits.provides_vector = false;
    traits.provides_object_pool = false;
    traits.provides_buffers = false;
    return traits;
}

template <blocks_strategy S>
class tracked {
public:
    static constexpr strategy_traits traits =
        tracked_traits<S>("tracked", "a blocks strategy with allocation counters", "seed 004");
    static constexpr bool atomic_counters = S::traits.thread_safe;

    explicit tracked(const block_spec& spec) : inner_(spec) {}

    tracked(const tracked&) = delete;
    tracked& operator=(const tracked&) = delete;

    void* allocate(std::size_t bytes) {
        void* block = inner_.allocate(bytes);
        if constexpr (S::traits.may_refuse) {
            if (block == nullptr) return nullptr;
        }
        allocations_.add(1);
        bytes_requested_.add(bytes);
        peak_live_bytes_.raise_to(live_bytes_.add(bytes));
        return block;
    }

    void deallocate(void* block, std::size_t bytes) {
        // Counted first: once S has the block back, another thread may be handed it and count
        // its allocation, and the live count must never dip below what is really live.
        deallocations_.add(1);
        live_bytes_.sub(bytes);
        inner_.deallocate(block, bytes);
    }

    void reset() requires resettable<S> {
        live_bytes_.sub(live_bytes_.load());
        inner_.reset();
    }

    tracking_snapshot snapshot() const {
        tracking_snapshot s;
        s.allocations = allocations_.load();
        s.deallocations = deallocations_.load();
        s.bytes_requested = bytes_requested_.load();
        s.live_bytes = live_bytes_.load();
        s.bytes_released = s.bytes_requested - s.live_bytes;
        s.peak_live_bytes = peak_live_bytes_.load();
        s.taken = std::chrono::steady_clock::now();
        return s;
    }

    S& inner() { return inner_; }

private:
    using counter = detail::tracking_counter<atomic_counters>;

    S inner_;
    counter allocations_;
    counter deallocations_;
    counter bytes_requested_;
    counter live_bytes_;
    counter peak_live_bytes_;
};

}  // namespace allocproof::strategies
