// The `std` baseline in each strategy family, written once: the plain standard-library way that
// every other strategy is read against. strategies/std.cpp is made of these; a workload serves a
// family its strategy lacks with them (workloads/support/family_fallback.hpp), and the tracking
// decorator's tests wrap the blocks (strategies/tracking.hpp).
#pragma once

#include <cstddef>
#include <cstring>
#include <new>
#include <vector>

namespace allocproof::baseline {

// Each block from global operator new, given back with sized delete, as a C++ program that knows
// its object sizes would.
struct global_new_blocks_ops {
    static void* allocate(std::size_t bytes) { return ::operator new(bytes); }
    static void deallocate(void* block, std::size_t bytes) { ::operator delete(block, bytes); }
};

// No pooling: acquire() is `new T`, release() is `delete`.
template <class T>
class fresh_objects {
public:
    explicit fresh_objects(std::size_t /*max_pooled*/) {}
    T* acquire() { return new T(); }
    void release(T* object) { delete object; }
};

// Owns its bytes; a slice copies them out, as code without shared buffers does.
class copied_buffer {
public:
    copied_buffer() = default;
    static copied_buffer copy_of(const void* data, std::size_t size) {
        copied_buffer b;
        b.bytes_.resize(size);
        if (size != 0) std::memcpy(b.bytes_.data(), data, size);
        return b;
    }
    copied_buffer slice(std::size_t offset, std::size_t size) const { return copy_of(bytes_.data() + offset, size); }
    const std::byte* data() const { return bytes_.data(); }
    std::size_t size() const { return bytes_.size(); }

private:
    std::vector<std::byte> bytes_;
};

}  // namespace allocproof::baseline
