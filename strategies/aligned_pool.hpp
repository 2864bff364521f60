// aligned_pool: fixed-size blocks aligned to 32 or 64 bytes for float32 embedding vectors. The
// contract is in the header comment of strategies/aligned_pool.cpp.
#pragma once

#include "allocproof/strategy.hpp"
#include "strategies/arena.hpp"
#include "strategies/poison.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <stdexcept>

namespace allocproof::strategies {

struct aligned_pool_options {
    // Wipe a block when it is released, so that no embedding outlives its release in the pool's
    // memory (the seed does it "for security"). Every block handed out then reads as zeros.
    bool zero_on_release = true;
};

struct aligned_pool_stats {
    std::size_t allocations = 0;  // over the pool's life
    std::size_t reuses = 0;       // allocations served by a released block
    std::size_t live_blocks = 0;
    std::size_t block_size = 0;  // bytes per block: block_spec::size rounded up to the alignment
    std::size_t alignment = 0;
    arenas::arena_stats carving;  // the chunks fresh blocks are carved from
};

class aligned_pool {
public:
    static constexpr std::size_t min_alignment = 32;  // AVX2 loads
    static constexpr strategy_traits traits{
        .name = "aligned_pool",
        .summary = "fixed-size blocks aligned to 32/64 B for embeddings; free list, optional zeroing",
        .origin = "seed 002 (Agrama EmbeddingPool, AlignedBlock)",
        .provides_blocks = true,
        .frees_individually = true,
        .thread_safe = false,
        .cross_thread_free = false,
        .fixed_size = true,
        .may_refuse = false,
        .max_alignment = 64,
    };

    explicit aligned_pool(const block_spec& spec, aligned_pool_options options = {})
        : alignment_(block_alignment(spec.alignment)),
          block_size_((std::max(spec.size, sizeof(free_block)) + alignment_ - 1) & ~(alignment_ - 1)),
          zero_(options.zero_on_release) {}
    aligned_pool(const aligned_pool&) = delete;
    aligned_pool& operator=(const aligned_pool&) = delete;

    // ---- fast path -------------------------------------------------------------------------
    void* allocate(std::size_t /*bytes*/) {
        ++allocations_;
        ++live_;
        if (free_ != nullptr) [[likely]] {
            free_block* block = free_;
            unpoison_memory(block, block_size_);
            free_ = block->next;
            ++reuses_;
            if (zero_) block->next = nullptr;  // the rest was wiped at release
            return block;
        }
        void* block = fresh_.allocate(block_size_, alignment_);
        if (zero_) std::memset(block, 0, block_size_);
        return block;
    }

    void deallocate(void* block, std::size_t /*bytes*/) {
        --live_;
        if (zero_) std::memset(block, 0, block_size_);
        auto* freed = static_cast<free_block*>(block);
        freed->next = free_;
        free_ = freed;
        // Only the link stays readable, so that ASan catches a use after free inside the pool.
        poison_memory(reinterpret_cast<std::byte*>(block) + sizeof(free_block), block_size_ - sizeof(free_block));
    }

    aligned_pool_stats statistics() const {
        return {allocations_, reuses_, live_, block_size_, alignment_, fresh_.statistics()};
    }

private:
    struct free_block {
        free_block* next;
    };

    static std::size_t block_alignment(std::size_t requested) {
        const std::size_t alignment = std::max(arenas::checked_alignment(requested), min_alignment);
        if (alignment > traits.max_alignment) {
            throw std::invalid_argument("aligned_pool serves alignments up to 64 bytes");
        }
        return alignment;
    }

    std::size_t alignment_;
    std::size_t block_size_;
    bool zero_;
    free_block* free_ = nullptr;  // released blocks, last in first out
    std::size_t allocations_ = 0;
    std::size_t reuses_ = 0;
    std::size_t live_ = 0;
    // Fresh blocks are carved from a bump arena on the global allocator (4 KiB chunks doubling
    // to 1 MiB); its chunks go back only when the pool is destroyed.
    arenas::bump_arena fresh_;
};

}  // namespace allocproof::strategies
