// fixed_pool — single-thread pool of fixed-size blocks: an intrusive free list threaded through
// freed blocks, refilled by bumping through chunks taken from the global allocator.
//
// Contract: one block size per instance (block_spec::size, rounded up to the alignment and to a
// pointer), frees individually, NOT thread-safe (one instance per thread), alignment up to the
// block_spec alignment. Chunks come from ::operator new and go back only when the pool is
// destroyed; a freed block is reused last-in first-out, which keeps hot blocks in cache.
//
// Seed 002 (Agrama) grows its pools by 1.5x; the growth factor is a member so that issue-level
// tuning can set it, default 2.
#include "allocproof/register.hpp"
#include "allocproof/strategy.hpp"
#include "strategies/poison.hpp"

#include <algorithm>
#include <cstddef>
#include <new>
#include <vector>


namespace allocproof::strategies {

class fixed_pool {
public:
    static constexpr strategy_traits traits{
        .name = "fixed_pool",
        .summary = "single-thread fixed-size pool: intrusive free list over chunks",
        .origin = "seed 002 (Agrama FixedPool); seeds 000, 001",
        .frees_individually = true,
        .thread_safe = false,
        .fixed_size = true,
    };

    explicit fixed_pool(const block_spec& spec)
        : alignment_(std::max(spec.alignment, alignof(free_block))),
          block_size_(round_up(std::max(spec.size, sizeof(free_block)), alignment_)) {}

    fixed_pool(const fixed_pool&) = delete;
    fixed_pool& operator=(const fixed_pool&) = delete;

    ~fixed_pool() {
        for (void* chunk : chunks_) {
            ::operator delete(chunk, std::align_val_t{alignment_});
        }
    }

    // ---- fast path -------------------------------------------------------------------------
    void* allocate(std::size_t /*bytes*/) {
        if (free_list_ != nullptr) [[likely]] {
            free_block* block = free_list_;
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
        auto* freed = static_cast<free_block*>(block);
        freed->next = free_list_;
        free_list_ = freed;
        // The link stays readable to us; the rest of a freed block is off limits, so that a
        // use-after-free inside the pool is caught by AddressSanitizer like one in malloc.
        poison_memory(reinterpret_cast<std::byte*>(block) + sizeof(free_block),
                          block_size_ - sizeof(free_block));
    }

    // ---- slow path -------------------------------------------------------------------------
private:
    struct free_block {
        free_block* next;
    };

    static std::size_t round_up(std::size_t value, std::size_t to) {
        return (value + to - 1) / to * to;
    }

    void refill() {
        std::size_t blocks = next_chunk_blocks_;
        next_chunk_blocks_ = std::min<std::size_t>(next_chunk_blocks_ * growth_factor_,
                                                   max_chunk_blocks);
        auto* chunk = static_cast<std::byte*>(
            ::operator new(blocks * block_size_, std::align_val_t{alignment_}));
        chunks_.push_back(chunk);
        bump_ = chunk;
        bump_end_ = chunk + blocks * block_size_;
        poison_memory(chunk, blocks * block_size_);
    }

    static constexpr std::size_t first_chunk_blocks = 64;
    static constexpr std::size_t max_chunk_blocks = 64 * 1024;

    std::size_t alignment_;
    std::size_t block_size_;
    free_block* free_list_ = nullptr;
    std::byte* bump_ = nullptr;
    std::byte* bump_end_ = nullptr;
    std::size_t next_chunk_blocks_ = first_chunk_blocks;
    std::size_t growth_factor_ = 2;
    std::vector<void*> chunks_;
};

}  // namespace allocproof::strategies

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::fixed_pool)
