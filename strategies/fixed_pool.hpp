// The fixed-size pool mechanism shared by fixed_pool, fixed_pool_stats, mutex_pool and (its chunk
// store) fixed_pool_mt. Not registered itself: the .cpp files of those strategies are.
//
//   fixed_pool_options      how chunks grow (seed 002's PoolConfig.pool_growth_factor is 1.5)
//   detail::block_layout    the block size and alignment one instance serves
//   detail::chunk_store     chunks from the global allocator, growing geometrically, all freed
//                           when the store is destroyed
//   basic_fixed_pool<S>     single-thread pool: an intrusive LIFO free list over bump-allocated
//                           chunks; with S = true it also keeps the statistics of seed 002's
//                           PoolStats (fixed_pool_statistics)
//
// Why the statistics cost two increments per pair and nothing else: blocks are carved from a
// chunk only when the free list is empty, so at that moment every carved block is live. The live
// count therefore peaks exactly at the number of blocks carved so far, which stats() reads from
// the bump pointer; capacity and the number of chunks (one chunk = one allocation that missed)
// are slow-path facts. Only `acquired` and `released` are counted on the hot path.
#pragma once

#include "allocproof/strategy.hpp"
#include "strategies/poison.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace allocproof::strategies {

struct fixed_pool_options {
    double growth_factor = 2.0;           // each chunk holds this many times the previous one's blocks
    std::size_t first_chunk_blocks = 64;  // blocks in the first chunk
};

// A snapshot of a statistics pool (basic_fixed_pool<true>::stats()).
struct fixed_pool_statistics {
    std::uint64_t acquired = 0;   // allocate() calls
    std::uint64_t released = 0;   // deallocate() calls
    std::uint64_t live = 0;       // acquired - released
    std::uint64_t peak_live = 0;  // most blocks live at once since construction
    std::uint64_t capacity = 0;   // blocks held in chunks (live, free or not yet carved)
    std::uint64_t chunks = 0;     // chunks taken from the global allocator
    std::size_t block_size = 0;   // bytes per block after rounding
    double utilisation = 0;       // live / capacity (0 when nothing is held)
    double hit_rate = 0;          // allocations served without taking a new chunk / acquired
                                  // (0 before the first allocation)
};

namespace detail {

struct block_layout {
    std::size_t alignment;
    std::size_t size;  // a multiple of alignment, large enough for the free-list link

    static block_layout of(const block_spec& spec) {
        if (spec.alignment == 0 || (spec.alignment & (spec.alignment - 1)) != 0) {
            throw std::invalid_argument("block alignment must be a power of two");
        }
        const std::size_t alignment = std::max(spec.alignment, alignof(void*));
        const std::size_t size = std::max(spec.size, sizeof(void*));
        return {alignment, (size + alignment - 1) / alignment * alignment};
    }
};

// The link a free block holds in its first bytes. Only these bytes of a free block stay
// addressable under AddressSanitizer.
struct free_block {
    free_block* next;
};

// Poisons a block being given back to a pool, except its link.
inline void poison_free_block(void* block, std::size_t block_size) {
    poison_memory(static_cast<std::byte*>(block) + sizeof(free_block), block_size - sizeof(free_block));
}

// Chunks from ::operator new. Sizes follow the growth schedule until a chunk would exceed
// max_chunk_blocks blocks or max_chunk_bytes bytes (but never fall below the first chunk).
class chunk_store {
public:
    static constexpr std::size_t max_chunk_blocks = 64 * 1024;
    static constexpr std::size_t max_chunk_bytes = 16 * 1024 * 1024;

    chunk_store(const block_layout& layout, const fixed_pool_options& options)
        : layout_(layout),
          growth_factor_(options.growth_factor),
          next_chunk_blocks_(options.first_chunk_blocks),
          largest_chunk_blocks_(
              std::max(options.first_chunk_blocks,
                       std::min(max_chunk_blocks, std::max<std::size_t>(1, max_chunk_bytes / layout.size)))) {
        if (!(options.growth_factor >= 1.0) || !std::isfinite(options.growth_factor)) {
            throw std::invalid_argument("fixed_pool_options::growth_factor must be >= 1");
        }
        if (options.first_chunk_blocks == 0) {
            throw std::invalid_argument("fixed_pool_options::first_chunk_blocks must be >= 1");
        }
    }

    chunk_store(const chunk_store&) = delete;
    chunk_store& operator=(const chunk_store&) = delete;

    ~chunk_store() {
        for (void* chunk : chunks_) ::operator delete (chunk, std::align_val_t{layout_.alignment});
    }

    // Takes the next chunk; it is poisoned, and holds `blocks` blocks.
    std::byte* grow(std::size_t& blocks) {
        blocks = next_chunk_blocks_;
        const double next = std::floor(static_cast<double>(blocks) * growth_factor_);
        next_chunk_blocks_ =
            next >= static_cast<double>(largest_chunk_blocks_) ? largest_chunk_blocks_ : static_cast<std::size_t>(next);
        chunks_.reserve(chunks_.size() + 1);  // so that a throw below leaks nothing
        auto* chunk =
            static_cast<std::byte*>(::operator new (blocks* layout_.size, std::align_val_t{layout_.alignment}));
        chunks_.push_back(chunk);
        capacity_blocks_ += blocks;
        poison_memory(chunk, blocks * layout_.size);
        return chunk;
    }

    std::size_t capacity_blocks() const { return capacity_blocks_; }
    std::size_t chunk_count() const { return chunks_.size(); }
    std::size_t next_chunk_blocks() const { return next_chunk_blocks_; }

private:
    block_layout layout_;
    double growth_factor_;
    std::size_t next_chunk_blocks_;
    std::size_t largest_chunk_blocks_;
    std::size_t capacity_blocks_ = 0;
    std::vector<void*> chunks_;
};

struct no_counters {};
struct pair_counters {
    std::uint64_t acquired = 0;
    std::uint64_t released = 0;
};

}  // namespace detail

// Single-thread fixed-size pool. One block size per instance; frees individually; blocks reused
// last-in first-out, which keeps hot blocks in cache; chunks go back only on destruction.
template <bool Statistics>
class basic_fixed_pool {
public:
    explicit basic_fixed_pool(const block_spec& spec, const fixed_pool_options& options = {})
        : block_size_(detail::block_layout::of(spec).size), chunks_(detail::block_layout::of(spec), options) {}

    basic_fixed_pool(const basic_fixed_pool&) = delete;
    basic_fixed_pool& operator=(const basic_fixed_pool&) = delete;

    // ---- fast path -------------------------------------------------------------------------
    void* allocate(std::size_t /*bytes*/) {
        if constexpr (Statistics) ++counters_.acquired;
        if (free_list_ != nullptr) [[likely]] {
            detail::free_block* block = free_list_;
            unpoison_memory(block, block_size_);
            free_list_ = block->next;
            return block;
        }
        if (bump_ == bump_end_) [[unlikely]] {
            refill();
        }
        std::byte* block = bump_;
        bump_ += block_size_;
        unpoison_memory(block, block_size_);
        return block;
    }

    void deallocate(void* block, std::size_t /*bytes*/) {
        if constexpr (Statistics) ++counters_.released;
        auto* freed = static_cast<detail::free_block*>(block);
        freed->next = free_list_;
        free_list_ = freed;
        // The link stays readable to us; the rest of a freed block is off limits, so that a
        // use-after-free inside the pool is caught by AddressSanitizer like one in malloc.
        detail::poison_free_block(block, block_size_);
    }

    // ---- slow path -------------------------------------------------------------------------
    fixed_pool_statistics stats() const requires Statistics {
        fixed_pool_statistics s;
        s.acquired = counters_.acquired;
        s.released = counters_.released;
        s.live = s.acquired - s.released;
        s.capacity = chunks_.capacity_blocks();
        s.peak_live = s.capacity - static_cast<std::size_t>(bump_end_ - bump_) / block_size_;
        s.chunks = chunks_.chunk_count();
        s.block_size = block_size_;
        s.utilisation = s.capacity == 0 ? 0.0 : double(s.live) / double(s.capacity);
        s.hit_rate = s.acquired == 0 ? 0.0 : double(s.acquired - s.chunks) / double(s.acquired);
        return s;
    }

    std::size_t block_size() const { return block_size_; }
    std::size_t capacity_blocks() const { return chunks_.capacity_blocks(); }

private:
    void refill() {
        std::size_t blocks = 0;
        bump_ = chunks_.grow(blocks);
        bump_end_ = bump_ + blocks * block_size_;
    }

    // Hot members first, together.
    detail::free_block* free_list_ = nullptr;
    std::byte* bump_ = nullptr;
    std::byte* bump_end_ = nullptr;
    std::size_t block_size_;
    [[no_unique_address]] std::conditional_t<Statistics, detail::pair_counters, detail::no_counters> counters_;
    detail::chunk_store chunks_;
};

}  // namespace allocproof::strategies
