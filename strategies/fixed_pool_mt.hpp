// The thread-safe fixed-size pool behind the fixed_pool_mt strategy: per-thread caches over a
// shared depot. Not registered itself (strategies/fixed_pool_mt.cpp is); tests use it with
// options.
//
// Layout of one instance:
//   slots_[thread_slots]   one cache per thread index (strategies/thread_index.hpp), each on its
//                          own 128-byte line pair (so that the adjacent-line prefetcher does not
//                          make neighbours share): a free list and its length. Only the thread
//                          holding that index touches a slot, so the common path takes no lock
//                          and no atomic read-modify-write.
//   depot (one mutex)      batches of free blocks handed back by caches, a loose list for the
//                          fallback path, the bump region of the current chunk, the chunk store.
//
// Paths:
//   allocate    pop from the own cache; when it is empty, take one batch from the depot (a full
//               batch if there is one, else carve one from the current chunk, else a new chunk)
//   deallocate  push onto the own cache, whoever allocated the block (cross-thread frees need no
//               special case); when the cache would exceed its limit, it hands its `batch` most
//               recently freed blocks to the depot.
//   limits      a cache's limit starts at two batches and grows by one batch each time the cache
//               runs empty (the thread allocates more than it frees, and would keep coming back
//               to the depot), up to max_cache_blocks (256 KiB of blocks, at least two batches).
//               A thread that only frees never grows its limit. So no cache ever holds more than
//               max_cache_blocks, and memory freed on one thread flows back to the others: a
//               producer/consumer pair settles at about live + two batches per cache + a batch.
//               (tcmalloc's thread caches grow their lists on underflow in the same spirit.)
//   fallback    a thread whose index is >= thread_slots (or that is exiting) has no cache here:
//               every call takes the depot mutex (a mutex_pool, in effect). Counted in stats().
//
// What it costs: the common path is one thread-local load, a bounds check, and a list push or
// pop with a count. The depot is taken once per batch per thread.
#pragma once

#include "allocproof/strategy.hpp"
#include "strategies/fixed_pool.hpp"
#include "strategies/poison.hpp"
#include "strategies/thread_index.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace allocproof::strategies {

struct fixed_pool_mt_options {
    fixed_pool_options chunks{};    // growth of the chunks the depot takes
    std::size_t batch_blocks = 0;      // blocks per depot transfer; 0: about 16 KiB, within [16, 64]
    std::size_t max_cache_blocks = 0;  // most blocks one cache may grow to hold; 0: 256 KiB of
                                       // blocks; never below two batches
    std::size_t thread_slots = 64;     // threads that get a cache in this instance (by index)
};

struct fixed_pool_mt_statistics {
    std::uint64_t capacity = 0;                // blocks held in chunks
    std::uint64_t chunks = 0;                  // chunks taken from the global allocator
    std::uint64_t depot_blocks = 0;            // free blocks in the depot right now
    std::uint64_t batches_to_caches = 0;       // refills of a thread cache (reused or carved)
    std::uint64_t batches_from_caches = 0;     // batches handed back by a full cache
    std::uint64_t fallback_allocations = 0;    // allocate() by a thread without a slot
    std::uint64_t fallback_deallocations = 0;  // deallocate() by a thread without a slot
    std::size_t batch_blocks = 0;              // the batch size in use
    std::size_t initial_cache_limit = 0;       // a cache's limit before it grows
    std::size_t max_cache_blocks = 0;          // the most a cache's limit grows to
};

class basic_fixed_pool_mt {
public:
    explicit basic_fixed_pool_mt(const block_spec& spec, const fixed_pool_mt_options& options = {})
        : block_size_(detail::block_layout::of(spec).size),
          batch_(options.batch_blocks != 0
                     ? options.batch_blocks
                     : std::clamp<std::size_t>(16 * 1024 / block_size_, 16, 64)),
          initial_limit_(2 * batch_),
          max_cache_(std::max(initial_limit_,
                              options.max_cache_blocks != 0
                                  ? options.max_cache_blocks
                                  : std::size_t{256 * 1024} / block_size_)),
          slot_count_(static_cast<unsigned>(std::min<std::size_t>(options.thread_slots,
                                                                  thread_index::retired))),
          slots_(std::make_unique<thread_cache[]>(slot_count_)),
          chunks_(detail::block_layout::of(spec), options.chunks) {
        for (unsigned i = 0; i < slot_count_; ++i) slots_[i].limit = initial_limit_;
    }

    basic_fixed_pool_mt(const basic_fixed_pool_mt&) = delete;
    basic_fixed_pool_mt& operator=(const basic_fixed_pool_mt&) = delete;

    // ---- fast path -------------------------------------------------------------------------
    void* allocate(std::size_t /*bytes*/) {
        const unsigned slot = thread_index::current();
        if (slot < slot_count_) [[likely]] {
            thread_cache& cache = slots_[slot];
            if (cache.head != nullptr) [[likely]] {
                return pop(cache);
            }
        }
        return allocate_slow(slot);
    }

    void deallocate(void* block, std::size_t /*bytes*/) {
        const unsigned slot = thread_index::current();
        if (slot < slot_count_) [[likely]] {
            thread_cache& cache = slots_[slot];
            if (cache.count < cache.limit) [[likely]] {
                push(cache, block);
                return;
            }
        }
        deallocate_slow(block, slot);
    }

    // ---- slow path -------------------------------------------------------------------------
    fixed_pool_mt_statistics stats() const {
        std::lock_guard lock(depot_.mutex);
        fixed_pool_mt_statistics s;
        s.capacity = chunks_.capacity_blocks();
        s.chunks = chunks_.chunk_count();
        s.depot_blocks = depot_.loose_count;
        for (const auto& b : depot_.batches) s.depot_blocks += b.count;
        s.batches_to_caches = depot_.batches_to_caches;
        s.batches_from_caches = depot_.batches_from_caches;
        s.fallback_allocations = depot_.fallback_allocations;
        s.fallback_deallocations = depot_.fallback_deallocations;
        s.batch_blocks = batch_;
        s.initial_cache_limit = initial_limit_;
        s.max_cache_blocks = max_cache_;
        return s;
    }

    std::size_t block_size() const { return block_size_; }
    std::size_t batch_blocks() const { return batch_; }
    std::size_t initial_cache_limit() const { return initial_limit_; }
    std::size_t max_cache_blocks() const { return max_cache_; }
    unsigned thread_slots() const { return slot_count_; }

private:
    using free_block = detail::free_block;

    struct alignas(128) thread_cache {
        free_block* head = nullptr;
        std::size_t count = 0;
        std::size_t limit = 0;
    };

    struct batch {
        free_block* head;
        std::size_t count;
    };

    void* pop(thread_cache& cache) {
        free_block* block = cache.head;
        unpoison_memory(block, block_size_);
        cache.head = block->next;
        --cache.count;
        return block;
    }

    void push(thread_cache& cache, void* block) {
        auto* freed = static_cast<free_block*>(block);
        freed->next = cache.head;
        cache.head = freed;
        ++cache.count;
        detail::poison_free_block(block, block_size_);
    }

    [[gnu::noinline]] void* allocate_slow(unsigned slot) {
        if (slot == thread_index::unassigned) slot = thread_index::assign();
        if (slot >= slot_count_) return fallback_allocate();
        thread_cache& cache = slots_[slot];
        if (cache.head == nullptr) refill(cache);
        return pop(cache);
    }

    [[gnu::noinline]] void deallocate_slow(void* block, unsigned slot) {
        if (slot == thread_index::unassigned) slot = thread_index::assign();
        if (slot >= slot_count_) return fallback_deallocate(block);
        thread_cache& cache = slots_[slot];
        push(cache, block);
        if (cache.count > cache.limit) flush(cache);
    }

    // Gives an empty cache one batch, and lets it hold one more next time.
    void refill(thread_cache& cache) {
        cache.limit = std::min(cache.limit + batch_, max_cache_);
        std::byte* carved = nullptr;
        std::size_t carved_blocks = 0;
        {
            std::lock_guard lock(depot_.mutex);
            ++depot_.batches_to_caches;
            if (!depot_.batches.empty()) {
                const batch b = depot_.batches.back();
                depot_.batches.pop_back();
                cache.head = b.head;
                cache.count = b.count;
                return;
            }
            if (depot_.loose_count != 0) {
                cache.head = depot_.loose;
                cache.count = depot_.loose_count;
                depot_.loose = nullptr;
                depot_.loose_count = 0;
                return;
            }
            carved_blocks = carve(batch_, carved);
        }
        // The carved range is this thread's now: link it outside the lock.
        free_block* head = nullptr;
        for (std::size_t i = carved_blocks; i-- > 0;) {
            std::byte* block = carved + i * block_size_;
            unpoison_memory(block, sizeof(free_block));
            reinterpret_cast<free_block*>(block)->next = head;
            head = reinterpret_cast<free_block*>(block);
        }
        cache.head = head;
        cache.count = carved_blocks;
    }

    // Hands the cache's `batch_` most recently freed blocks to the depot.
    void flush(thread_cache& cache) {
        free_block* first = cache.head;
        free_block* last = first;
        for (std::size_t i = 1; i < batch_; ++i) last = last->next;
        cache.head = last->next;
        cache.count -= batch_;
        last->next = nullptr;
        std::lock_guard lock(depot_.mutex);
        ++depot_.batches_from_caches;
        depot_.batches.push_back({first, batch_});
    }

    void* fallback_allocate() {
        std::byte* block = nullptr;
        {
            std::lock_guard lock(depot_.mutex);
            ++depot_.fallback_allocations;
            if (depot_.loose_count == 0 && !depot_.batches.empty()) {
                depot_.loose = depot_.batches.back().head;
                depot_.loose_count = depot_.batches.back().count;
                depot_.batches.pop_back();
            }
            if (depot_.loose_count != 0) {
                block = reinterpret_cast<std::byte*>(depot_.loose);
                depot_.loose = depot_.loose->next;
                --depot_.loose_count;
            } else {
                carve(1, block);
            }
        }
        unpoison_memory(block, block_size_);
        return block;
    }

    void fallback_deallocate(void* block) {
        auto* freed = static_cast<free_block*>(block);
        detail::poison_free_block(block, block_size_);
        std::lock_guard lock(depot_.mutex);
        ++depot_.fallback_deallocations;
        freed->next = depot_.loose;
        depot_.loose = freed;
        // A full loose list becomes a batch, so that caches can take it whole.
        if (++depot_.loose_count == batch_) {
            depot_.batches.push_back({depot_.loose, depot_.loose_count});
            depot_.loose = nullptr;
            depot_.loose_count = 0;
        }
    }

    // Under the depot mutex: up to `wanted` (>= 1) uncarved blocks, from a new chunk if the
    // current one is used up. Returns how many; `first` receives the first (still poisoned).
    std::size_t carve(std::size_t wanted, std::byte*& first) {
        if (depot_.bump == depot_.bump_end) {
            std::size_t blocks = 0;
            depot_.bump = chunks_.grow(blocks);
            depot_.bump_end = depot_.bump + blocks * block_size_;
        }
        const std::size_t available =
            static_cast<std::size_t>(depot_.bump_end - depot_.bump) / block_size_;
        const std::size_t n = std::min(wanted, available);
        first = depot_.bump;
        depot_.bump += n * block_size_;
        return n;
    }

    // Read by every thread on every call, written only by the constructor.
    const std::size_t block_size_;
    const std::size_t batch_;
    const std::size_t initial_limit_;
    const std::size_t max_cache_;
    const unsigned slot_count_;
    const std::unique_ptr<thread_cache[]> slots_;

    // Written by any thread, under the mutex; on lines of its own.
    struct alignas(128) depot_state {
        mutable std::mutex mutex;
        std::vector<batch> batches;
        free_block* loose = nullptr;
        std::size_t loose_count = 0;
        std::byte* bump = nullptr;
        std::byte* bump_end = nullptr;
        std::uint64_t batches_to_caches = 0;
        std::uint64_t batches_from_caches = 0;
        std::uint64_t fallback_allocations = 0;
        std::uint64_t fallback_deallocations = 0;
    };
    depot_state depot_;
    detail::chunk_store chunks_;  // guarded by depot_.mutex
};

}  // namespace allocproof::strategies
