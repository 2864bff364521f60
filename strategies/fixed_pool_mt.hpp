// The thread-safe fixed-size pool behind the fixed_pool_mt strategy: per-thread caches over a
// shared depot. Not registered itself (strategies/fixed_pool_mt.cpp is); tests use it with
// options.
//
// Layout of one instance:
//   slots_[thread_slots]   one cache per thread index (strategies/thread_index.hpp), each on its
//                          own 128-byte line pair (so that the adjacent-line prefetcher does not
//                          make neighbours share). A cache is a stack of free block addresses in
//                          an array of its own. Only the thread holding that index touches a
//                          slot, so the common path takes no lock and no atomic read-modify-write.
//   depot (one mutex)      a stack of free block addresses handed back by caches (or freed by
//                          threads without a cache), the bump region of the current chunk, the
//                          chunk store.
//
// Paths:
//   allocate    pop from the own cache; when it is empty, take one batch from the depot (the
//               addresses on top of its stack, else carve them from the current chunk, else
//               from a new chunk)
//   deallocate  push onto the own cache, whoever allocated the block (cross-thread frees need no
//               special case); when the cache is at its limit, it first hands its `batch` most
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
// Why arrays of addresses and not free lists threaded through the blocks (as fixed_pool does):
// a free that writes a link into the block pulls the block's cache line to the freeing core, and
// in a producer/consumer pair every block would cross cores twice (measured: about 1.5x the time
// per pair in 2t_cross). With arrays, neither a free nor a batch transfer touches the block, an
// allocation does not depend on a load from a cold block, and a free block can be poisoned whole.
// The price is 8 bytes of array per cached block, and a depot stack as long as the most blocks
// it ever held (8 bytes per block at that high-water mark).
//
// What it costs: the common path is one thread-local load, a bounds check, and an array push or
// pop. The depot is taken once per batch per thread.
#pragma once

#include "allocproof/strategy.hpp"
#include "strategies/fixed_pool.hpp"
#include "strategies/poison.hpp"
#include "strategies/thread_index.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

namespace allocproof::strategies {

struct fixed_pool_mt_options {
    fixed_pool_options chunks{};       // growth of the chunks the depot takes
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
          batch_(options.batch_blocks != 0 ? options.batch_blocks
                                           : std::clamp<std::size_t>(16 * 1024 / block_size_, 16, 64)),
          initial_limit_(2 * batch_),
          max_cache_(std::max(initial_limit_, options.max_cache_blocks != 0 ? options.max_cache_blocks
                                                                            : std::size_t{256 * 1024} / block_size_)),
          slot_count_(static_cast<unsigned>(std::min<std::size_t>(options.thread_slots, thread_index::retired))),
          slot_storage_(std::make_unique<thread_cache[]>(slot_count_ + 1)),
          slots_(slot_storage_.get() + 1),
          chunks_(detail::block_layout::of(spec), options.chunks) {}

    basic_fixed_pool_mt(const basic_fixed_pool_mt&) = delete;
    basic_fixed_pool_mt& operator=(const basic_fixed_pool_mt&) = delete;

    ~basic_fixed_pool_mt() {
        for (unsigned i = 0; i < slot_count_; ++i) delete[] slots_[i].items;
    }

    // ---- fast path -------------------------------------------------------------------------
    void* allocate(std::size_t /*bytes*/) {
        const unsigned slot = thread_index::current();
        if (slot < slot_count_) [[likely]] {
            thread_cache& cache = slots_[slot];
            if (cache.count != 0) [[likely]] {
                void* block = cache.items[--cache.count];
                unpoison_memory(block, block_size_);
                return block;
            }
        }
        return allocate_slow(slot);
    }

    void deallocate(void* block, std::size_t /*bytes*/) {
        const unsigned slot = thread_index::current();
        if (slot < slot_count_) [[likely]] {
            thread_cache& cache = slots_[slot];
            if (cache.count < cache.limit) [[likely]] {
                poison_memory(block, block_size_);
                cache.items[cache.count++] = block;
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
        s.depot_blocks = depot_.free.size();
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
    // count <= limit <= capacity of items. A slot no thread has used in this instance has no
    // array and a zero limit, so both fast paths fall through to the slow path, which gives it
    // one; the capacity grows (only while the cache is empty) to follow the limit.
    struct alignas(128) thread_cache {
        void** items = nullptr;
        std::size_t count = 0;
        std::size_t limit = 0;
        std::size_t capacity = 0;
    };

    [[gnu::noinline]] void* allocate_slow(unsigned slot) {
        if (slot == thread_index::unassigned) slot = thread_index::assign();
        if (slot >= slot_count_) return fallback_allocate();
        thread_cache& cache = slots_[slot];
        if (cache.count == 0) refill(cache);
        void* block = cache.items[--cache.count];
        unpoison_memory(block, block_size_);
        return block;
    }

    [[gnu::noinline]] void deallocate_slow(void* block, unsigned slot) {
        if (slot == thread_index::unassigned) slot = thread_index::assign();
        if (slot >= slot_count_) return fallback_deallocate(block);
        thread_cache& cache = slots_[slot];
        if (cache.capacity == 0) first_use(cache);
        if (cache.count == cache.limit) flush(cache);
        poison_memory(block, block_size_);
        cache.items[cache.count++] = block;
    }

    void first_use(thread_cache& cache) {
        cache.items = new void*[initial_limit_];
        cache.capacity = initial_limit_;
        cache.limit = initial_limit_;
    }

    // Gives an empty cache one batch, and (but on its first use) lets it hold one more next time.
    void refill(thread_cache& cache) {
        if (cache.capacity == 0) {
            first_use(cache);
        } else {
            cache.limit = std::min(cache.limit + batch_, max_cache_);
        }
        if (cache.capacity < cache.limit) {  // the cache is empty: nothing to copy
            delete[] cache.items;
            cache.items = nullptr;
            cache.capacity = 0;
            cache.items = new void*[cache.limit];
            cache.capacity = cache.limit;
        }
        std::lock_guard lock(depot_.mutex);
        ++depot_.batches_to_caches;
        std::vector<void*>& free = depot_.free;
        if (!free.empty()) {
            const std::size_t n = std::min(batch_, free.size());
            std::memcpy(cache.items, free.data() + free.size() - n, n * sizeof(void*));
            free.resize(free.size() - n);
            cache.count = n;
            return;
        }
        std::byte* first = nullptr;
        const std::size_t n = carve(batch_, first);
        // Pushed in reverse, so that the cache hands them out in address order.
        for (std::size_t i = 0; i < n; ++i) cache.items[i] = first + (n - 1 - i) * block_size_;
        cache.count = n;
    }

    // Hands the cache's `batch_` most recently freed blocks to the depot.
    void flush(thread_cache& cache) {
        cache.count -= batch_;
        std::lock_guard lock(depot_.mutex);
        ++depot_.batches_from_caches;
        depot_.free.insert(depot_.free.end(), cache.items + cache.count, cache.items + cache.count + batch_);
    }

    void* fallback_allocate() {
        void* block;
        {
            std::lock_guard lock(depot_.mutex);
            ++depot_.fallback_allocations;
            if (!depot_.free.empty()) {
                block = depot_.free.back();
                depot_.free.pop_back();
            } else {
                std::byte* first = nullptr;
                carve(1, first);
                block = first;
            }
        }
        unpoison_memory(block, block_size_);
        return block;
    }

    void fallback_deallocate(void* block) {
        poison_memory(block, block_size_);
        std::lock_guard lock(depot_.mutex);
        ++depot_.fallback_deallocations;
        depot_.free.push_back(block);
    }

    // Under the depot mutex: up to `wanted` (>= 1) uncarved blocks, from a new chunk if the
    // current one is used up. Returns how many; `first` receives the first (still poisoned).
    std::size_t carve(std::size_t wanted, std::byte*& first) {
        if (depot_.bump == depot_.bump_end) {
            std::size_t blocks = 0;
            depot_.bump = chunks_.grow(blocks);
            depot_.bump_end = depot_.bump + blocks * block_size_;
        }
        const std::size_t available = static_cast<std::size_t>(depot_.bump_end - depot_.bump) / block_size_;
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
    // The slots start one slot into their allocation. Large allocations are page-aligned on
    // jemalloc, mimalloc and tcmalloc, and so are the chunks: slot 0 would share its offset in
    // the page with a chunk's first block, and its loads would wait on stores to that block
    // (4K aliasing; measured on jemalloc: 6.1 instead of 2.5 ns per pair in one_live).
    const std::unique_ptr<thread_cache[]> slot_storage_;
    thread_cache* const slots_;

    // Written by any thread, under the mutex; on lines of its own.
    struct alignas(128) depot_state {
        mutable std::mutex mutex;
        std::vector<void*> free;
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
