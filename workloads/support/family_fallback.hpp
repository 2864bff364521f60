// For workloads that use two strategy families (object pools for whole objects and buffers for
// their bytes): a strategy that provides only one of them is served the other the `std` way, so
// that every cell differs from `std` in the family its strategy provides and in nothing else.
// The fallbacks are the `std` baseline's own (allocproof/std_baseline.hpp): `new`/`delete` per
// object, a deep copy per buffer and per slice.
#pragma once

#include "allocproof/std_baseline.hpp"
#include "allocproof/strategy.hpp"

namespace allocproof::workloads::support {

using baseline::copied_buffer;
using baseline::fresh_objects;

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
