// arena_pool: arenas handed out per operation and reused, over one store of free chunks. The
// contract, and which calls are thread-safe, is in the header comment of strategies/arena_pool.cpp.
#pragma once

#include "allocproof/strategy.hpp"
#include "strategies/arena.hpp"
#include "strategies/poison.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <utility>

namespace allocproof::arenas {

struct arena_pool_options {
    // Free chunks the store keeps for later operations. Chunks given back beyond this go to
    // ::operator delete; an operation needing more than this is not served from the store alone.
    std::size_t max_free_bytes = std::size_t{64} << 20;
};

struct arena_pool_stats {
    std::size_t chunks_from_global = 0;  // chunks made with ::operator new, over the pool's life
    std::size_t chunks_to_global = 0;    // chunks given to ::operator delete past max_free_bytes
    std::size_t chunks_reused = 0;       // chunk requests the store served
    std::size_t free_chunks = 0;         // in the store now
    std::size_t free_bytes = 0;          // in the store now, headers included
    std::size_t arenas_created = 0;      // arena objects made with ::operator new, over the pool's life
    std::size_t arenas_idle = 0;         // arenas waiting in the pool (each keeps its first chunk)
    std::size_t leases_out = 0;          // leases not yet ended
    std::size_t thread_arenas = 0;       // arenas held by threads as their thread arena
};

}  // namespace allocproof::arenas

namespace allocproof::strategies {

class arena_pool final : private arenas::chunk_source {
    struct pooled_arena;

public:
    static constexpr strategy_traits traits{
        .name = "arena_pool",
        .summary = "pooled arenas: reset() gives chunks to the pool's store, not the global allocator",
        .origin = "seed 002 (Agrama ArenaManager); seed 003 (Lightning DB ArenaPool, THREAD_ARENA)",
        .provides_blocks = true,
        .frees_individually = false,
        .thread_safe = false,  // of the blocks interface; acquire() and thread_arena() are
        .cross_thread_free = false,
        .fixed_size = false,
        .may_refuse = false,
        .max_alignment = 64,
    };

    // An arena for one operation: returned to the pool when the lease ends (destruction, or
    // end()), its chunks but the first going back to the store. Movable, not copyable; the arena
    // is used by one thread at a time.
    class lease {
    public:
        lease() = default;
        lease(lease&& other) noexcept
            : pool_(std::exchange(other.pool_, nullptr)), arena_(std::exchange(other.arena_, nullptr)) {}
        lease& operator=(lease&& other) noexcept {
            if (this != &other) {
                end();
                pool_ = std::exchange(other.pool_, nullptr);
                arena_ = std::exchange(other.arena_, nullptr);
            }
            return *this;
        }
        lease(const lease&) = delete;
        lease& operator=(const lease&) = delete;
        ~lease() { end(); }

        arenas::bump_arena& operator*() const;
        arenas::bump_arena* operator->() const { return &**this; }
        explicit operator bool() const { return arena_ != nullptr; }
        void end();

    private:
        friend class arena_pool;
        lease(arena_pool* pool, pooled_arena* arena) : pool_(pool), arena_(arena) {}
        arena_pool* pool_ = nullptr;
        pooled_arena* arena_ = nullptr;
    };

    explicit arena_pool(const block_spec& spec, arenas::arena_pool_options options = {});
    // A pool used through leases and thread arenas only.
    explicit arena_pool(arenas::arena_pool_options options = {}) : arena_pool(block_spec{}, options) {}
    arena_pool(const arena_pool&) = delete;
    arena_pool& operator=(const arena_pool&) = delete;
    ~arena_pool();

    // ---- blocks interface: one thread at a time (traits.thread_safe = false) -----------------
    void* allocate(std::size_t bytes) { return own_.allocate(bytes, alignment_); }
    // No reuse before reset(); poisoned at once so that ASan still catches a use after it.
    void deallocate(void* block, std::size_t bytes) { poison_memory(block, bytes); }
    // Ends the current operation: every chunk but the first goes to the store.
    void reset() { own_.reset(); }
    arenas::arena_stats own_statistics() const { return own_.statistics(); }

    // ---- per-operation interface: thread-safe ------------------------------------------------
    lease acquire();
    // This thread's arena in this pool: the same arena on every call from one thread, made on
    // the first. The thread resets it between operations (reset()); it goes back to the pool
    // when the thread exits, or at release_thread_arena().
    arenas::bump_arena& thread_arena();
    void release_thread_arena();

    arenas::arena_pool_stats statistics() const;

private:
    struct thread_registry;

    arenas::chunk* take(std::size_t bytes) override;
    void give(arenas::chunk* chain) override;
    // Files `chain` in the store (mutex_ held); what exceeds max_free_bytes is added to `overflow`.
    void file_locked(arenas::chunk* chain, arenas::chunk*& overflow);
    pooled_arena* pop_arena_locked();
    void return_arena(pooled_arena* arena, bool thread_arena);

    mutable std::mutex mutex_;                                  // the store, the arena lists, the counters
    std::array<arenas::chunk*, arenas::chunk_classes> free_{};  // standard sizes, by class
    arenas::chunk* huge_ = nullptr;                             // bigger than max_chunk_size
    arenas::arena_pool_stats stats_;
    pooled_arena* idle_ = nullptr;
    pooled_arena* all_ = nullptr;
    arenas::arena_pool_options options_;

    // Thread arenas (registry_mutex in arena_pool.cpp guards these two).
    bool registered_ = false;
    arena_pool* next_registered_ = nullptr;
    const std::uint64_t serial_;  // tells a live pool from a dead one at the same address

    std::size_t alignment_;
    arenas::bump_arena own_;  // the blocks interface's arena
};

struct arena_pool::pooled_arena {
    explicit pooled_arena(arena_pool* pool) : arena(pool) {}
    arenas::bump_arena arena;
    pooled_arena* next_idle = nullptr;
    pooled_arena* next_all = nullptr;
};

inline arenas::bump_arena& arena_pool::lease::operator*() const { return arena_->arena; }

inline void arena_pool::lease::end() {
    if (arena_ != nullptr) {
        pool_->return_arena(std::exchange(arena_, nullptr), false);
        pool_ = nullptr;
    }
}

}  // namespace allocproof::strategies
