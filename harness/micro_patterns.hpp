// The micro suite: one strategy operation in isolation, under Google Benchmark.
//
// Patterns for blocks strategies (each "pair" is one allocate and one deallocate, and every block
// handed out is written once, so a strategy cannot win by handing out memory nobody touches):
//   one_live          allocate, write, free: the hottest possible path
//   batch_10k         10,000 allocated, then freed in a fixed random order (or reset, for arenas)
//   replace_10k       10,000 live; each pair frees a random one and allocates its replacement
//   replace_big       the same with 1,000 live blocks of 8 KiB (seed 001's query block size):
//                     above 4 KiB, pool resources that do not pool large blocks keep them in a
//                     sorted list, and it shows here
//   2t_own            two threads, each allocating 1,000 blocks and freeing them in random order;
//                     a thread-safe strategy is shared by both, any other has one instance each
//   2t_cross          one thread allocates, the other frees what it receives through a queue:
//                     every free crosses threads (strategies with cross_thread_free only)
// Pattern for vector strategies:
//   vector_fill       build a vector<uint64_t, 8> of `argument` elements, sum it, destroy it
// Patterns for object-pool strategies (the object is a 64-byte record with a reset()):
//   object_one        acquire, write, release
//   objects_many      acquire `argument` objects, release them in a fixed random order
// Pattern for buffer strategies:
//   buffer_slices     copy `argument` bytes into a buffer, cut it into 16 slices, read each
//
// Measurement traps, written down here:
//   * Google Benchmark's Threads(n) makes new threads for every run, so thread caches start
//     cold; the two-thread patterns keep one helper thread for the whole benchmark instead and
//     time each batch themselves (UseManualTime).
//   * The random orders are made once, outside the timed loop, from a fixed seed, and are the
//     same for every strategy.
//   * A strategy object whose address never escapes may live in registers across the loop: a
//     free list's head then never touches memory, and a pool looks faster than any real one
//     (whose state another function could see). escape() publishes the object's address once,
//     so the per-iteration DoNotOptimize (a compiler barrier on memory) makes the state real.
//   * The two-thread queue spins; past a few hundred spins it yields, so that on a loaded
//     machine a waiting thread gives its core back instead of measuring the scheduler.
#pragma once

#include "allocproof/strategy.hpp"
#include "allocproof/workload.hpp"

#include <benchmark/benchmark.h>

#include <array>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace allocproof::micro {

inline constexpr std::size_t batch_blocks = 10'000;
inline constexpr std::size_t thread_blocks = 1'000;
inline constexpr std::size_t thread_rounds = 16;
inline constexpr std::size_t cross_blocks = 16'384;
inline constexpr std::size_t micro_alignment = 16;

// ---- fixed random sequences ---------------------------------------------------------------------

inline std::vector<std::uint32_t> permutation(std::size_t n, std::uint64_t seed) {
    std::vector<std::uint32_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<std::uint32_t>(i);
    split_mix random(seed);
    for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[random.below(i)]);
    return order;
}

inline const std::vector<std::uint32_t>& batch_order() {
    static const auto order = permutation(batch_blocks, 1);
    return order;
}

inline const std::vector<std::uint32_t>& thread_order() {
    static const auto order = permutation(thread_blocks, 2);
    return order;
}

// 64 Ki random indices below batch_blocks, read cyclically.
inline const std::vector<std::uint32_t>& replacement_picks() {
    static const auto picks = [] {
        std::vector<std::uint32_t> p(1 << 16);
        split_mix random(3);
        for (auto& v : p) v = static_cast<std::uint32_t>(random.below(batch_blocks));
        return p;
    }();
    return picks;
}

inline void touch(void* block, std::size_t value) { static_cast<std::uint64_t*>(block)[0] = value; }

inline void cpu_relax(unsigned& spins) {
    if (++spins > 256) {
        std::this_thread::yield();
        return;
    }
#if defined(__x86_64__)
    _mm_pause();
#endif
}

template <class T>
void escape(T& object) {
    T* address = &object;
    benchmark::DoNotOptimize(address);
}

// ---- single-thread patterns ---------------------------------------------------------------------

template <class S>
void one_live(benchmark::State& state, std::size_t size) {
    S strategy(block_spec{size, micro_alignment});
    escape(strategy);
    for (auto _ : state) {
        void* block = strategy.allocate(size);
        touch(block, size);
        benchmark::DoNotOptimize(block);
        strategy.deallocate(block, size);
    }
    state.SetItemsProcessed(state.iterations());
}

template <class S>
void batch_10k(benchmark::State& state, std::size_t size) {
    S strategy(block_spec{size, micro_alignment});
    escape(strategy);
    std::vector<void*> blocks(batch_blocks);
    const auto& order = batch_order();
    for (auto _ : state) {
        for (std::size_t i = 0; i < batch_blocks; ++i) {
            blocks[i] = strategy.allocate(size);
            touch(blocks[i], i);
        }
        benchmark::DoNotOptimize(blocks.data());
        if constexpr (S::traits.frees_individually) {
            for (std::uint32_t i : order) strategy.deallocate(blocks[i], size);
        } else {
            strategy.reset();
        }
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch_blocks));
}

template <class S, std::size_t Live>
void replace_live(benchmark::State& state, std::size_t size) {
    static_assert(Live <= batch_blocks, "replacement picks are drawn below batch_blocks");
    S strategy(block_spec{size, micro_alignment});
    escape(strategy);
    std::vector<void*> live(Live);
    for (auto& block : live) {
        block = strategy.allocate(size);
        touch(block, size);
    }
    const auto& picks = replacement_picks();
    std::size_t next = 0;
    for (auto _ : state) {
        std::uint32_t i = picks[next++ & (picks.size() - 1)] % Live;
        strategy.deallocate(live[i], size);
        live[i] = strategy.allocate(size);
        touch(live[i], next);
        benchmark::DoNotOptimize(live[i]);
    }
    for (void* block : live) strategy.deallocate(block, size);
    state.SetItemsProcessed(state.iterations());
}

template <class S>
void replace_10k(benchmark::State& state, std::size_t size) {
    replace_live<S, batch_blocks>(state, size);
}

template <class S>
void replace_big(benchmark::State& state, std::size_t size) {
    replace_live<S, 1'000>(state, size);
}

// ---- two-thread patterns ------------------------------------------------------------------------

// Runs `main_batch` here and `helper_batch` on one helper thread, together, once per benchmark
// iteration, and times each iteration from the release of both to the end of the slower.
template <class MainBatch, class HelperBatch>
void run_paired(benchmark::State& state, MainBatch main_batch, HelperBatch helper_batch, std::int64_t items_per_batch) {
    using clock = std::chrono::steady_clock;
    std::barrier sync(2);
    bool finished = false;  // written before a barrier, read after it: the barrier orders them
    std::thread helper([&] {
        for (;;) {
            sync.arrive_and_wait();
            if (finished) return;
            helper_batch();
            sync.arrive_and_wait();
        }
    });
    for (auto _ : state) {
        auto start = clock::now();
        sync.arrive_and_wait();
        main_batch();
        sync.arrive_and_wait();
        state.SetIterationTime(std::chrono::duration<double>(clock::now() - start).count());
    }
    finished = true;
    sync.arrive_and_wait();
    helper.join();
    state.SetItemsProcessed(state.iterations() * items_per_batch);
}

template <class S>
void own_blocks_round(S& strategy, std::vector<void*>& blocks, std::size_t size) {
    const auto& order = thread_order();
    for (std::size_t round = 0; round < thread_rounds; ++round) {
        for (std::size_t i = 0; i < thread_blocks; ++i) {
            blocks[i] = strategy.allocate(size);
            touch(blocks[i], i);
        }
        benchmark::DoNotOptimize(blocks.data());
        for (std::uint32_t i : order) strategy.deallocate(blocks[i], size);
    }
}

template <class S>
void two_threads_own(benchmark::State& state, std::size_t size) {
    const block_spec spec{size, micro_alignment};
    // A thread-safe strategy is shared, as a server shares one pool among its workers.
    std::optional<S> shared, first, second;
    if constexpr (S::traits.thread_safe) {
        shared.emplace(spec);
    } else {
        first.emplace(spec);
        second.emplace(spec);
    }
    S& main_strategy = S::traits.thread_safe ? *shared : *first;
    S& helper_strategy = S::traits.thread_safe ? *shared : *second;
    std::vector<void*> main_blocks(thread_blocks), helper_blocks(thread_blocks);
    run_paired(
        state, [&] { own_blocks_round(main_strategy, main_blocks, size); },
        [&] { own_blocks_round(helper_strategy, helper_blocks, size); },
        static_cast<std::int64_t>(2 * thread_blocks * thread_rounds));
}

// A bounded single-producer single-consumer queue of block pointers.
class block_queue {
public:
    void push(void* block) {
        std::size_t tail = tail_.load(std::memory_order_relaxed);
        unsigned spins = 0;
        while (tail - head_.load(std::memory_order_acquire) == capacity) cpu_relax(spins);
        slots_[tail & (capacity - 1)] = block;
        tail_.store(tail + 1, std::memory_order_release);
    }
    void* pop() {
        std::size_t head = head_.load(std::memory_order_relaxed);
        unsigned spins = 0;
        while (tail_.load(std::memory_order_acquire) == head) cpu_relax(spins);
        void* block = slots_[head & (capacity - 1)];
        head_.store(head + 1, std::memory_order_release);
        return block;
    }

private:
    static constexpr std::size_t capacity = 1024;
    std::array<void*, capacity> slots_{};
    alignas(64) std::atomic<std::size_t> head_{0};
    alignas(64) std::atomic<std::size_t> tail_{0};
};

template <class S>
void two_threads_cross(benchmark::State& state, std::size_t size) {
    S strategy(block_spec{size, micro_alignment});
    auto queue = std::make_unique<block_queue>();
    run_paired(
        state,
        [&] {
            for (std::size_t i = 0; i < cross_blocks; ++i) {
                void* block = strategy.allocate(size);
                touch(block, i);
                queue->push(block);
            }
        },
        [&] {
            for (std::size_t i = 0; i < cross_blocks; ++i) strategy.deallocate(queue->pop(), size);
        },
        static_cast<std::int64_t>(cross_blocks));
}

// ---- vector pattern -----------------------------------------------------------------------------

template <class S>
void vector_fill(benchmark::State& state, std::size_t count) {
    for (auto _ : state) {
        typename S::template vector<std::uint64_t, 8> values;
        for (std::size_t i = 0; i < count; ++i) values.push_back(i);
        std::uint64_t sum = 0;
        for (auto v : values) sum += v;
        benchmark::DoNotOptimize(sum);
    }
    state.SetItemsProcessed(state.iterations());
}

// ---- object-pool patterns -----------------------------------------------------------------------

struct pooled_record {
    std::array<std::uint64_t, 8> fields{};
    void reset() { fields[0] = 0; }
};

template <class S>
void object_one(benchmark::State& state, std::size_t /*unused*/) {
    typename S::template object_pool<pooled_record> pool(64);
    escape(pool);
    for (auto _ : state) {
        pooled_record* record = pool.acquire();
        record->fields[0] = 1;
        benchmark::DoNotOptimize(record);
        pool.release(record);
    }
    state.SetItemsProcessed(state.iterations());
}

template <class S>
void objects_many(benchmark::State& state, std::size_t count) {
    typename S::template object_pool<pooled_record> pool(count);
    escape(pool);
    std::vector<pooled_record*> records(count);
    const auto order = permutation(count, 4);
    for (auto _ : state) {
        for (std::size_t i = 0; i < count; ++i) {
            records[i] = pool.acquire();
            records[i]->fields[0] = i;
        }
        benchmark::DoNotOptimize(records.data());
        for (std::uint32_t i : order) pool.release(records[i]);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(count));
}

// ---- buffer pattern -----------------------------------------------------------------------------

template <class S>
void buffer_slices(benchmark::State& state, std::size_t bytes) {
    using buffer = typename S::buffer;
    std::vector<std::byte> source(bytes, std::byte{7});
    constexpr std::size_t slices = 16;
    for (auto _ : state) {
        buffer whole = buffer::copy_of(source.data(), source.size());
        std::uint64_t sum = 0;
        for (std::size_t i = 0; i < slices; ++i) {
            buffer part = whole.slice(i * (bytes / slices), bytes / slices);
            sum += static_cast<std::uint64_t>(part.data()[0]) + part.size();
        }
        benchmark::DoNotOptimize(sum);
    }
    state.SetItemsProcessed(state.iterations());
}

}  // namespace allocproof::micro
