// Test doubles that are fast because they are wrong: each hands out memory that is still in use,
// one per strategy family. Every workload must be served by at least one of them, and its digest
// must then differ from the right one: that is what makes the harness's digest check able to fail.
// Used at one thread only (they share memory on purpose, which threads would turn into races).
#pragma once

#include "allocproof/strategy.hpp"

#include <array>
#include <cstddef>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

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
          ring_(static_cast<std::byte*>(::operator new(slot_size_ * slots, std::align_val_t{64}))) {}
    ~overlapping_blocks() { ::operator delete(ring_, std::align_val_t{64}); }
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
