// For workloads that use two strategy families (object pools for whole objects and buffers for
// their bytes): a strategy that provides only one of them is served the other the `std` way, so
// that every cell differs from `std` in the family its strategy provides and in nothing else.
// The fallbacks behave as strategies/std.cpp's: `new`/`delete` per object, a deep copy per
// buffer and per slice.
#pragma once

#include "allocproof/strategy.hpp"

#include <cstddef>
#include <cstring>
#include <vector>

namespace allocproof::workloads::support {

template <class T>
class fresh_objects {
public:
    explicit fresh_objects(std::size_t /*max_pooled*/) {}
    T* acquire() { return new T(); }
    void release(T* object) { delete object; }
};

class copied_buffer {
public:
    copied_buffer() = default;
    static copied_buffer copy_of(const void* data, std::size_t size) {
        copied_buffer b;
        b.bytes_.resize(size);
        if (size != 0) std::memcpy(b.bytes_.data(), data, size);
        return b;
    }
    copied_buffer slice(std::size_t offset, std::size_t size) const {
        return copy_of(bytes_.data() + offset, size);
    }
    const std::byte* data() const { return bytes_.data(); }
    std::size_t size() const { return bytes_.size(); }

private:
    std::vector<std::byte> bytes_;
};

namespace detail {
template <class S, class T, bool = S::traits.provides_object_pool>
struct object_pool_for {
    using type = fresh_objects<T>;
};
template <class S, class T>
struct object_pool_for<S, T, true> {
    using type = typename S::template object_pool<T>;
};
template <class S, bool = S::traits.provides_buffers>
struct buffer_for {
    using type = copied_buffer;
};
template <class S>
struct buffer_for<S, true> {
    using type = typename S::buffer;
};
}  // namespace detail

// S's object pool for T, or new/delete.
template <class S, class T>
using object_pool_or_fresh = typename detail::object_pool_for<S, T>::type;

// S's buffer, or a deep-copying one.
template <class S>
using buffer_or_copy = typename detail::buffer_for<S>::type;

}  // namespace allocproof::workloads::support
