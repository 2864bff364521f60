// A bounded single-producer single-consumer ring of small trivially copyable entries, for
// workloads that hand blocks from one thread to another in FIFO order.
//
// The producer's index and the consumer's index live on separate 64-byte lines, each beside the
// side's cached copy of the other index, so a push or pop touches the other side's line only when
// its cached view says the ring is full or empty. Push publishes with release and pop reads with
// acquire: everything the producer wrote into a block before pushing it is visible to the
// consumer that pops it (and ThreadSanitizer sees the hand-over).
//
// Waiting: a full ring (push) or an empty one (pop) spins briefly, then yields the core on every
// further try. The matrix runs 8 threads on 2 cores; a waiter that only spun would hold a core the
// thread it waits for needs.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <type_traits>

namespace allocproof::workloads::support {

class spin_then_yield {
public:
    void wait() {
        if (spins_ < spin_limit) {
            ++spins_;
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        } else {
            std::this_thread::yield();
        }
    }

private:
    static constexpr unsigned spin_limit = 64;
    unsigned spins_ = 0;
};

template <class T>
class spsc_ring {
    static_assert(std::is_trivially_copyable_v<T>);

public:
    // Holds `capacity` entries, rounded up to a power of two.
    explicit spsc_ring(std::size_t capacity)
        : mask_(std::bit_ceil(capacity < 1 ? std::size_t{1} : capacity) - 1),
          entries_(std::make_unique<T[]>(mask_ + 1)) {}

    spsc_ring(const spsc_ring&) = delete;
    spsc_ring& operator=(const spsc_ring&) = delete;

    std::size_t capacity() const { return mask_ + 1; }

    // ---- producer side ----
    void push(const T& entry) {
        spin_then_yield backoff;
        while (!try_push(entry)) backoff.wait();
    }

    bool try_push(const T& entry) {
        const std::uint64_t tail = producer_.index.load(std::memory_order_relaxed);
        if (tail - producer_.other_seen > mask_) {
            producer_.other_seen = consumer_.index.load(std::memory_order_acquire);
            if (tail - producer_.other_seen > mask_) return false;
        }
        entries_[tail & mask_] = entry;
        producer_.index.store(tail + 1, std::memory_order_release);
        return true;
    }

    // ---- consumer side ----
    T pop() {
        spin_then_yield backoff;
        T entry;
        while (!try_pop(entry)) backoff.wait();
        return entry;
    }

    bool try_pop(T& entry) {
        const std::uint64_t head = consumer_.index.load(std::memory_order_relaxed);
        if (head == consumer_.other_seen) {
            consumer_.other_seen = producer_.index.load(std::memory_order_acquire);
            if (head == consumer_.other_seen) return false;
        }
        entry = entries_[head & mask_];
        consumer_.index.store(head + 1, std::memory_order_release);
        return true;
    }

    // ---- either side, when one thread plays both (or the other side is done) ----
    std::size_t size() const {
        return static_cast<std::size_t>(producer_.index.load(std::memory_order_acquire) -
                                        consumer_.index.load(std::memory_order_acquire));
    }
    bool full() const { return size() == capacity(); }

private:
    struct alignas(64) side {
        std::atomic<std::uint64_t> index{0};  // entries this side has pushed (popped)
        std::uint64_t other_seen = 0;         // the other side's index as last read
    };

    side producer_;
    side consumer_;
    const std::size_t mask_;
    const std::unique_ptr<T[]> entries_;
};

}  // namespace allocproof::workloads::support
