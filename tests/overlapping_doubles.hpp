// Test doubles that are fast because they are wrong: each hands out memory that is still in use,
// one per strategy family. Every workload must be served by at least one of them, and its digest
// must then differ from the right one: that is what makes the harness's digest check able to fail.
// Used at one thread only (they share memory on purpose, which threads would turn into races).
#pragma once

#include "allocproof/strategy.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace allocproof::test_doubles {

// Blocks: a ring of 64 slots, reused round-robin however many blocks are live.
class overlapping_blocks {
public:
    static constexpr strategy_traits traits{.name = "overlapping_blocks",
                                            .summary = "test double",
                                            .origin = "test",
                                            .thread_safe = true,
                                            .cross_thread_free = true,
                                            .max_alignment = 64};
    static constexpr std::size_t slots = 64;
    explicit overlapping_blocks(const block_spec& spec)
        : slot_size_((std::max<std::size_t>(spec.size, 4096) + 63) / 64 * 64),
          ring_(static_cast<std::byte*>(::operator new (slot_size_* slots, std::align_val_t{64}))) {}
    ~overlapping_blocks() { ::operator delete (ring_, std::align_val_t{64}); }
    overlapping_blocks(const overlapping_blocks&) = delete;
    overlapping_blocks& operator=(const overlapping_blocks&) = delete;
    void* allocate(std::size_t bytes) {
        if (bytes > slot_size_) throw std::length_error("overlapping_blocks: block too large");
        next_ = (next_ + 1) % slots;
        return ring_ + next_ * slot_size_;
    }
    void deallocate(void*, std::size_t) {}
    void reset() {}

private:
    std::size_t slot_size_;
    std::byte* ring_;
    std::size_t next_ = 0;
};

// What the two subtler blocks doubles below share: every instance of a double in the process
// takes its memory from one place, so that a block of one instance (a 64 B node pool) lands in or
// beside a block of another (a 256 B one), as one heap would put them. Nothing is given back
// before the last instance goes: a block the double wrongly handed out stays addressable, so the
// workload reads overwritten values instead of freed memory (the doubles corrupt; they are not to
// crash on their own). A mutex only because the cross-thread workloads ask for a thread-safe
// strategy; like every double they are used at one thread.
class shared_test_heap {
public:
    struct live_block {
        std::byte* start;
        std::size_t bytes;
        bool hosts_a_block = false;  // one each, so that two nested blocks never share a start
    };

    shared_test_heap() {
        std::lock_guard lock(state().mutex);
        ++state().instances;
    }
    ~shared_test_heap() {
        std::lock_guard lock(state().mutex);
        if (--state().instances > 0) return;
        for (std::byte* chunk : state().chunks) ::operator delete (chunk, std::align_val_t{64});
        state().chunks.clear();
        state().live.clear();
        state().allocations = 0;
        state().previous_own_start = state().previous_end = state().chunk_end = nullptr;
    }
    shared_test_heap(const shared_test_heap&) = delete;
    shared_test_heap& operator=(const shared_test_heap&) = delete;

protected:
    struct shared_state {
        std::mutex mutex;
        int instances = 0;
        std::vector<std::byte*> chunks;  // everything taken from ::operator new
        std::vector<live_block> live;    // in the order handed out
        std::uint64_t allocations = 0;
        std::byte* previous_own_start = nullptr;
        std::byte* previous_end = nullptr;
        std::byte* chunk_end = nullptr;
    };
    static shared_state& state() {
        static shared_state shared;
        return shared;
    }

    static std::byte* new_chunk(std::size_t bytes) {
        auto* chunk = static_cast<std::byte*>(::operator new (bytes, std::align_val_t{64}));
        state().chunks.push_back(chunk);
        return chunk;
    }
    static void forget(void* block) {
        auto& live = state().live;
        auto found = std::find_if(live.rbegin(), live.rend(), [&](const live_block& b) { return b.start == block; });
        if (found != live.rend()) live.erase(std::next(found).base());
    }
    static std::byte* align_down(std::byte* at, std::size_t alignment) {
        return reinterpret_cast<std::byte*>(reinterpret_cast<std::uintptr_t>(at) & ~(alignment - 1));
    }
};

// Blocks: one allocation in `nest_every` lands in the interior of a live, larger block: the most
// recent one that holds it with an alignment step to spare on each side, one step past its start
// (clear of a header or a first word a workload might check). The others are fresh memory. Where
// no live block is larger (a workload with one node size), the nesting degenerates to the start
// of an equally large live block.
class interior_nesting_blocks : shared_test_heap {
public:
    static constexpr strategy_traits traits{.name = "interior_nesting_blocks",
                                            .summary = "test double",
                                            .origin = "test",
                                            .thread_safe = true,
                                            .cross_thread_free = true,
                                            .max_alignment = 64};
    static constexpr std::uint64_t nest_every = 16;

    explicit interior_nesting_blocks(const block_spec& spec) : alignment_(std::max<std::size_t>(spec.alignment, 16)) {}

    void* allocate(std::size_t bytes) {
        std::lock_guard lock(state().mutex);
        std::byte* block = nullptr;
        if (++state().allocations % nest_every == 0) block = nested(bytes);
        if (block == nullptr) block = new_chunk(std::max<std::size_t>(bytes, 1));
        state().live.push_back({block, bytes, false});
        return block;
    }
    void deallocate(void* block, std::size_t) {
        std::lock_guard lock(state().mutex);
        forget(block);
    }

private:
    std::byte* nested(std::size_t bytes) {
        auto& live = state().live;
        auto can_host = [&](const live_block& b) { return !b.hosts_a_block && b.bytes >= bytes + 2 * alignment_; };
        auto host = std::find_if(live.rbegin(), live.rend(), can_host);
        if (host == live.rend()) {
            host = std::find_if(live.rbegin(), live.rend(),
                                [&](const live_block& b) { return !b.hosts_a_block && b.bytes == bytes; });
        }
        if (host == live.rend()) return nullptr;
        host->hosts_a_block = true;
        return host->bytes == bytes ? host->start : host->start + alignment_;
    }

    std::size_t alignment_;
};

// Blocks: a bump allocator for blocks up to a page, whose every block starts 16 bytes before the
// end of the small block handed out just before it (which is usually still live), or as little
// more as the alignment asks: a stride 16 bytes short. Larger blocks get memory of their own, as
// allocators serve them apart.
// Each block overlaps only its predecessor and only its end: where the predecessor has fewer than
// 16 bytes of its own before that, or the new block is under 32 bytes (16 shared bytes would be
// most of it, a nesting rather than a neighbour's overlap), the new block follows without one.
class neighbour_overlapping_blocks : shared_test_heap {
public:
    static constexpr strategy_traits traits{.name = "neighbour_overlapping_blocks",
                                            .summary = "test double",
                                            .origin = "test",
                                            .thread_safe = true,
                                            .cross_thread_free = true,
                                            .max_alignment = 64};
    static constexpr std::size_t overlap = 16;
    static constexpr std::size_t small_limit = 4096;
    static constexpr std::size_t chunk_bytes = std::size_t{1} << 20;

    explicit neighbour_overlapping_blocks(const block_spec& spec)
        : alignment_(std::max<std::size_t>(spec.alignment, overlap)) {}

    void* allocate(std::size_t bytes) {
        std::lock_guard lock(state().mutex);
        if (bytes > small_limit) return new_chunk(bytes);
        auto& s = state();
        std::byte* block = nullptr;
        std::byte* own_start = nullptr;  // its first byte no earlier block has
        if (s.previous_end != nullptr) {
            block = align_down(s.previous_end - overlap, alignment_);
            own_start = s.previous_end;
            if (bytes < 2 * overlap || block < s.previous_own_start + overlap) {
                block = own_start = align_down(s.previous_end + alignment_ - 1, alignment_);
            }
        }
        if (block == nullptr || static_cast<std::size_t>(s.chunk_end - block) < bytes) {
            const std::size_t size = std::max(chunk_bytes, bytes);
            block = own_start = new_chunk(size);
            s.chunk_end = block + size;
        }
        s.previous_own_start = own_start;
        s.previous_end = block + bytes;
        return block;
    }
    void deallocate(void*, std::size_t) {}

private:
    std::size_t alignment_;
};

// Object pools: four objects handed out round-robin, never owned by the caller alone.
struct overlapping_objects {
    static constexpr strategy_traits traits{.name = "overlapping_objects",
                                            .summary = "test double",
                                            .origin = "test",
                                            .provides_blocks = false,
                                            .provides_object_pool = true,
                                            .thread_safe = true};
    template <class T>
    class object_pool {
    public:
        explicit object_pool(std::size_t) {}
        T* acquire() {
            T& object = objects_[next_++ % objects_.size()];
            if constexpr (requires { object.reset(); }) object.reset();
            return &object;
        }
        void release(T*) {}

    private:
        std::array<T, 4> objects_{};
        std::size_t next_ = 0;
    };
};

// Buffers: copies land in one 64 KiB ring, so a buffer kept long enough is overwritten.
struct overlapping_buffers {
    static constexpr strategy_traits traits{.name = "overlapping_buffers",
                                            .summary = "test double",
                                            .origin = "test",
                                            .provides_blocks = false,
                                            .provides_buffers = true,
                                            .thread_safe = true};
    class buffer {
    public:
        buffer() = default;
        static buffer copy_of(const void* data, std::size_t size) {
            static std::array<std::byte, 1 << 16> ring;
            static std::size_t next = 0;
            if (size > ring.size()) throw std::length_error("overlapping_buffers: too large");
            if (next + size > ring.size()) next = 0;
            std::byte* start = ring.data() + next;
            if (size > 0) std::memcpy(start, data, size);
            next += size;
            return buffer(start, size);
        }
        buffer slice(std::size_t offset, std::size_t size) const { return buffer(data_ + offset, size); }
        const std::byte* data() const { return data_; }
        std::size_t size() const { return size_; }

    private:
        buffer(const std::byte* data, std::size_t size) : data_(data), size_(size) {}
        const std::byte* data_ = nullptr;
        std::size_t size_ = 0;
    };
};

// Vectors: every instance, whatever its element type, keeps its elements at the start of one
// shared 64 KiB array, so two vectors live at once overwrite each other. Only the std::vector API
// the vector workloads use; elements must be trivially copyable.
struct overlapping_vector_storage {
    alignas(64) static inline std::array<std::byte, 1 << 16> bytes{};
};

template <class T>
class overlapping_vector_of {
    static_assert(std::is_trivially_copyable_v<T>);

public:
    using value_type = T;
    void push_back(const T& value) { emplace_back(value); }
    template <class... Args>
    T& emplace_back(Args&&... args) {
        if ((size_ + 1) * sizeof(T) > overlapping_vector_storage::bytes.size()) {
            throw std::length_error("overlapping_vector: too large");
        }
        T value{std::forward<Args>(args)...};
        std::memcpy(overlapping_vector_storage::bytes.data() + size_ * sizeof(T), &value, sizeof(T));
        return data()[size_++];
    }
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    void clear() { size_ = 0; }
    T& operator[](std::size_t i) { return data()[i]; }
    const T& operator[](std::size_t i) const { return data()[i]; }
    T* begin() { return data(); }
    T* end() { return data() + size_; }
    const T* begin() const { return data(); }
    const T* end() const { return data() + size_; }

private:
    static T* data() { return reinterpret_cast<T*>(overlapping_vector_storage::bytes.data()); }
    std::size_t size_ = 0;
};

struct overlapping_vector {
    static constexpr strategy_traits traits{.name = "overlapping_vector",
                                            .summary = "test double",
                                            .origin = "test",
                                            .provides_blocks = false,
                                            .provides_vector = true,
                                            .thread_safe = true};
    template <class T, std::size_t N>
    using vector = overlapping_vector_of<T>;
};

}  // namespace allocproof::test_doubles
