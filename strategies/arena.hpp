// Bump arenas over chained chunks: the machinery behind the `arena`, `arena_pool` and
// `aligned_pool` strategies, and the `arena` strategy itself. Each strategy's contract is in the
// header comment of its .cpp file.
//
// A chunk is one block from the chunk's source: a 16-byte header (link, size), then bump space.
// The source is the global allocator (::operator new / sized ::operator delete), or an
// arena_pool's store of free chunks (a chunk_source). Chunk sizes: the first standard chunk is
// 4 KiB, each next one twice the last, up to 1 MiB; a request too big for the next one makes that
// chunk the next power of two that holds it. A request too big for a 1 MiB chunk gets a chunk of
// its own (a multiple of 64 KiB, so that a store can serve the same request again), linked behind
// the current chunk, which keeps serving small requests.
//
// reset() keeps one standard chunk and gives every other back to the source: a reused arena
// neither grows for ever nor starts from nothing. On the global allocator it keeps the largest
// (the newest: sizes only grow), so that an operation that needed several chunks once fits in the
// kept one the next time (keeping the first, smallest, made glibc trim and fault the rest back in
// on every reset). With a store as the source (arena_pool) it keeps the first: the others wait in
// the store, and an idle arena holds little.
#pragma once

#include "allocproof/strategy.hpp"
#include "strategies/poison.hpp"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace allocproof::arenas {

struct chunk {
    chunk* next;
    std::size_t size;  // bytes of the whole chunk, header included

    std::uintptr_t begin() const { return reinterpret_cast<std::uintptr_t>(this) + sizeof(chunk); }
    std::uintptr_t end() const { return reinterpret_cast<std::uintptr_t>(this) + size; }
    void poison_space() const { poison_memory(reinterpret_cast<void*>(begin()), size - sizeof(chunk)); }
};
static_assert(sizeof(chunk) == 16);

inline constexpr std::size_t first_chunk_size = 4096;
inline constexpr std::size_t max_chunk_size = std::size_t{1} << 20;
inline constexpr std::size_t huge_chunk_granule = std::size_t{64} << 10;
// Standard sizes 4 KiB << k, k = 0 .. chunk_classes - 1.
inline constexpr std::size_t chunk_classes = 9;
static_assert(first_chunk_size << (chunk_classes - 1) == max_chunk_size);

// The class whose size is the smallest standard size >= bytes (bytes <= max_chunk_size).
inline std::size_t chunk_class_at_least(std::size_t bytes) {
    const std::size_t rounded = std::bit_ceil(std::max(bytes, first_chunk_size));
    return static_cast<std::size_t>(std::countr_zero(rounded) - std::countr_zero(first_chunk_size));
}

// The class whose size is the largest standard size <= bytes (bytes >= first_chunk_size).
inline std::size_t chunk_class_at_most(std::size_t bytes) {
    const std::size_t rounded = std::bit_floor(std::min(bytes, max_chunk_size));
    return static_cast<std::size_t>(std::countr_zero(rounded) - std::countr_zero(first_chunk_size));
}

// The size of the chunk of its own that a request of `need` bytes (header included) beyond
// max_chunk_size gets: rounded up, so that a store can serve the same request again from what an
// earlier one gave back.
inline std::size_t huge_chunk_size(std::size_t need) {
    if (need > std::numeric_limits<std::size_t>::max() - huge_chunk_granule) throw std::bad_alloc();
    return (need + huge_chunk_granule - 1) / huge_chunk_granule * huge_chunk_granule;
}

inline chunk* new_chunk(std::size_t bytes) {
    auto* c = static_cast<chunk*>(::operator new(bytes));
    c->next = nullptr;
    c->size = bytes;
    return c;
}

inline void delete_chunks(chunk* chain) {
    while (chain != nullptr) {
        chunk* next = chain->next;
        ::operator delete(static_cast<void*>(chain), chain->size);
        chain = next;
    }
}

// Where an arena's chunks come from and go back to when it is not the global allocator. Called
// once per chunk, never per allocation, so the virtual call stays off the fast path.
class chunk_source {
public:
    // A chunk of at least `bytes` bytes (header included); its header says its real size.
    virtual chunk* take(std::size_t bytes) = 0;
    // Chunks linked through `next`, their bump space already poisoned.
    virtual void give(chunk* chain) = 0;

protected:
    ~chunk_source() = default;
};

// Derived from the bump pointer and kept up to date only on the slow path: the fast path
// counts nothing.
struct arena_stats {
    std::size_t bytes_used = 0;    // handed out since the last reset, alignment padding included
    std::size_t chunks = 0;        // held now
    std::size_t bytes_held = 0;    // held now, chunk headers included
    std::size_t chunks_taken = 0;  // over the arena's life, from its source
    std::size_t chunks_given = 0;  // over the arena's life, back to its source
};

// A single-thread bump allocator over chunks. Not a strategy itself: see `arena` below and
// strategies/arena_pool.hpp.
class bump_arena {
public:
    explicit bump_arena(chunk_source* source = nullptr) noexcept : source_(source) {}
    bump_arena(const bump_arena&) = delete;
    bump_arena& operator=(const bump_arena&) = delete;
    ~bump_arena() { give_back(detach_all()); }

    // ---- fast path -------------------------------------------------------------------------
    // `alignment` must be a power of two; any power of two is honoured. allocate(0) hands out
    // one byte, so every call returns a distinct address.
    void* allocate(std::size_t bytes, std::size_t alignment = alignof(std::max_align_t)) {
        bytes += static_cast<std::size_t>(bytes == 0);
        const std::uintptr_t at = (cursor_ + alignment - 1) & ~(alignment - 1);
        // Two tests, not `at + bytes <= end_`, which a huge request would wrap around.
        if (at <= end_ && bytes <= end_ - at) [[likely]] {
            cursor_ = at + bytes;
            void* block = reinterpret_cast<void*>(at);
            unpoison_memory(block, bytes);
            return block;
        }
        return allocate_slow(bytes, alignment);
    }

    // Constructs a T in the arena. Its destructor never runs (the arena frees by reset), so
    // only trivially destructible types are accepted.
    template <class T, class... Args>
    T* create(Args&&... args) {
        static_assert(std::is_trivially_destructible_v<T>, "an arena never runs destructors");
        return ::new (allocate(sizeof(T), alignof(T))) T(std::forward<Args>(args)...);
    }

    // ---- freeing everything at once ----------------------------------------------------------
    // Keeps one standard chunk (empty, ready for the next operation), gives the others back.
    void reset() { give_back(detach_all_but_first()); }
    // Gives every chunk back.
    void release() { give_back(detach_all()); }

    // For owners that give chunks back themselves (arena_pool does it under its own lock): the
    // arena is left as reset() / release() leave it; the returned chain is poisoned.
    chunk* detach_all_but_first();
    chunk* detach_all();

    arena_stats statistics() const {
        return {used_before_ + (cursor_ - current_begin_), chunk_count_, bytes_held_, chunks_taken_, chunks_given_};
    }
    chunk_source* source() const { return source_; }

private:
    [[gnu::noinline]] void* allocate_slow(std::size_t bytes, std::size_t alignment) {
        // Worst-case padding is alignment - 1 whatever the chunk's own alignment.
        if (bytes > std::numeric_limits<std::size_t>::max() / 2 - alignment) throw std::bad_alloc();
        const std::size_t need = sizeof(chunk) + bytes + alignment - 1;
        const auto carve = [&](const chunk* c) {
            const std::uintptr_t at = (c->begin() + alignment - 1) & ~(alignment - 1);
            unpoison_memory(reinterpret_cast<void*>(at), bytes);
            return at;
        };
        if (need > max_chunk_size) {
            chunk* own = take(huge_chunk_size(need));
            hold(own);
            const std::uintptr_t at = carve(own);
            used_before_ += at + bytes - own->begin();
            return reinterpret_cast<void*>(at);
        }
        chunk* c = take(std::max(next_size_, std::bit_ceil(need)));
        hold(c);
        // The chunk reset() keeps: on the global allocator the largest (see the file comment);
        // with a store behind the arena, the first, since given-back chunks stay in the store.
        if (first_ == nullptr || source_ == nullptr) first_ = c;
        next_size_ = size_after(c->size);
        used_before_ += cursor_ - current_begin_;  // the old chunk's unused tail is not counted
        const std::uintptr_t at = carve(c);
        current_begin_ = c->begin();
        cursor_ = at + bytes;
        end_ = c->end();
        return reinterpret_cast<void*>(at);
    }
    chunk* take(std::size_t bytes);
    void give_back(chunk* chain);
    void hold(chunk* c) {
        c->next = chunks_;
        chunks_ = c;
        ++chunk_count_;
        bytes_held_ += c->size;
    }
    static std::size_t size_after(std::size_t size) {
        return std::min(std::max(size, first_chunk_size) * 2, max_chunk_size);
    }

    std::uintptr_t cursor_ = 0;  // next free byte of the current chunk (0: none yet)
    std::uintptr_t end_ = 0;
    std::uintptr_t current_begin_ = 0;  // where the current chunk's bump space starts
    std::size_t used_before_ = 0;       // bytes_used outside the current chunk
    chunk* chunks_ = nullptr;           // every chunk held, newest first
    chunk* first_ = nullptr;            // the standard chunk reset() keeps
    std::size_t next_size_ = first_chunk_size;
    std::size_t chunk_count_ = 0;
    std::size_t bytes_held_ = 0;
    std::size_t chunks_taken_ = 0;
    std::size_t chunks_given_ = 0;
    chunk_source* source_;
};

// ---- slow path: inline because several strategies' object files use it -------------------------

inline chunk* bump_arena::take(std::size_t bytes) {
    chunk* c = source_ != nullptr ? source_->take(bytes) : new_chunk(bytes);
    ++chunks_taken_;
    c->poison_space();
    return c;
}

inline void bump_arena::give_back(chunk* chain) {
    if (chain == nullptr) return;
    for (chunk* c = chain; c != nullptr; c = c->next) ++chunks_given_;
    if (source_ != nullptr) {
        source_->give(chain);
    } else {
        delete_chunks(chain);
    }
}

inline chunk* bump_arena::detach_all_but_first() {
    chunk* rest = nullptr;
    for (chunk* c = chunks_; c != nullptr;) {
        chunk* next = c->next;
        if (c != first_) {
            c->poison_space();
            c->next = rest;
            rest = c;
        }
        c = next;
    }
    used_before_ = 0;
    chunks_ = first_;
    if (first_ != nullptr) {
        first_->next = nullptr;
        first_->poison_space();
        chunk_count_ = 1;
        bytes_held_ = first_->size;
        cursor_ = current_begin_ = first_->begin();
        end_ = first_->end();
        next_size_ = size_after(first_->size);
    } else {
        chunk_count_ = 0;
        bytes_held_ = 0;
        cursor_ = end_ = current_begin_ = 0;
        next_size_ = first_chunk_size;
    }
    return rest;
}

inline chunk* bump_arena::detach_all() {
    chunk* rest = detach_all_but_first();
    if (first_ != nullptr) {
        first_->next = rest;
        rest = first_;
        first_ = nullptr;
        chunks_ = nullptr;
        chunk_count_ = 0;
        bytes_held_ = 0;
        cursor_ = end_ = current_begin_ = 0;
        next_size_ = first_chunk_size;
    }
    return rest;
}

inline std::size_t checked_alignment(std::size_t alignment) {
    if (alignment == 0 || !std::has_single_bit(alignment)) {
        throw std::invalid_argument("block_spec::alignment must be a power of two");
    }
    return alignment;
}

}  // namespace allocproof::arenas

namespace allocproof::strategies {

// The `arena` strategy (strategies/arena.cpp states its contract): a bump_arena on the global
// allocator, serving one block_spec's alignment.
class arena {
public:
    static constexpr strategy_traits traits{
        .name = "arena",
        .summary = "single-thread bump arena over growing chunks; frees only on reset",
        .origin = "seed 002 (Agrama ArenaManager: std.heap.ArenaAllocator); seed 003 (bumpalo)",
        .provides_blocks = true,
        .frees_individually = false,
        .thread_safe = false,
        .cross_thread_free = false,
        .fixed_size = false,
        .may_refuse = false,
        .max_alignment = 64,
    };

    explicit arena(const block_spec& spec) : alignment_(arenas::checked_alignment(spec.alignment)) {}
    arena(const arena&) = delete;
    arena& operator=(const arena&) = delete;

    void* allocate(std::size_t bytes) { return arena_.allocate(bytes, alignment_); }

    // No reuse before reset(); the block is poisoned at once, so that a use after this call is
    // still caught under AddressSanitizer.
    void deallocate(void* block, std::size_t bytes) { poison_memory(block, bytes); }

    void reset() { arena_.reset(); }

    arenas::arena_stats statistics() const { return arena_.statistics(); }

private:
    std::size_t alignment_;
    arenas::bump_arena arena_;
};

}  // namespace allocproof::strategies
