// allocproof — the strategy interface.
//
// A strategy is a class that gives a workload its memory, or the data structures that hold it.
// The harness instantiates every workload template with every strategy that can serve it, so a
// call into a strategy is a direct, inlinable call: no virtual dispatch sits between a workload
// and the strategy it measures.
//
// A strategy provides one or more families; `traits` says which:
//
//   blocks (traits.provides_blocks) — an allocator of raw blocks:
//     explicit S(const block_spec&)         one instance serves one kind of block; a workload
//                                           with 64 B and 256 B nodes makes two instances, as a
//                                           database keeps one pool per node type
//     void* allocate(std::size_t bytes)     at least `bytes`, aligned to block_spec::alignment;
//                                           `bytes` <= block_spec::size when traits.fixed_size.
//                                           nullptr only when traits.may_refuse (a budget is spent)
//     void deallocate(void* block, std::size_t bytes)
//                                           gives a block back; strategies without
//                                           frees_individually may ignore it
//     void reset()            (optional)    frees every block at once (arenas)
//
//   vector (traits.provides_vector) — the sequence container a workload keeps small lists in:
//     template <class T, std::size_t N> using vector = ...;   // N: the inline capacity hint
//
//   object_pool (traits.provides_object_pool) — reuse of whole constructed objects:
//     template <class T> using object_pool = ...;  with
//       explicit object_pool(std::size_t max_pooled)
//       T* acquire()           an object in its reset state (T::reset() was called, or it is new)
//       void release(T*)       back to the pool (or deleted past max_pooled)
//
//   buffers (traits.provides_buffers) — immutable byte buffers handed between components:
//     using buffer = ...;  with
//       static buffer copy_of(const void* data, std::size_t size)
//       buffer slice(std::size_t offset, std::size_t size) const
//       const std::byte* data() const; std::size_t size() const
//
// Rules for every family:
//   * Memory a strategy holds comes from the global allocator of the process (::operator new),
//     so the same strategy is measured on top of glibc, jemalloc, mimalloc and tcmalloc.
//   * An instance is used by one thread at a time unless traits.thread_safe.
//   * The baseline strategy `std` provides every family the plain standard-library way, so every
//     figure can be read as a ratio to it.
//
// Registration: end the strategy's .cpp file with ALLOCPROOF_REGISTER_STRATEGY(type) after
// including "harness/register.hpp". Nothing else in the tree needs to change. Out of the tree,
// the same class goes into a plugin instead: ALLOCPROOF_PLUGIN (allocproof/plugin.hpp).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace allocproof {

inline constexpr int strategy_interface_version = 2;

// What one instance of a blocks strategy will be asked for.
struct block_spec {
    std::size_t size = 64;
    std::size_t alignment = alignof(std::max_align_t);
};

struct strategy_traits {
    std::string_view name;     // unique; the file strategies/<name>.cpp defines it
    std::string_view summary;  // one line for `allocproof list`
    std::string_view origin;   // where it comes from: "seed 002", "Boost.Pool 1.74", "baseline"

    bool provides_blocks = true;
    bool provides_vector = false;
    bool provides_object_pool = false;
    bool provides_buffers = false;

    bool frees_individually = true;  // deallocate() makes the block reusable at once
    bool thread_safe = false;        // one instance may be shared by threads
    bool cross_thread_free = false;  // a block may be freed by another thread than its allocator's
    bool fixed_size = false;         // serves only blocks of block_spec::size bytes
    bool may_refuse = false;         // allocate() returns nullptr when a budget is spent
    std::size_t max_alignment = alignof(std::max_align_t);
};

// ---- the families as concepts ---------------------------------------------------------------
// One concept per requirement, so that check_strategy_contract can say which one a strategy
// misses; the families' concepts are their conjunctions.
namespace contract {

template <class S>
concept has_traits = requires {
    { S::traits } -> std::convertible_to<strategy_traits>;
};
template <class S>
concept declares_blocks = has_traits<S> && S::traits.provides_blocks;
template <class S>
concept declares_vector = has_traits<S> && S::traits.provides_vector;
template <class S>
concept declares_object_pool = has_traits<S> && S::traits.provides_object_pool;
template <class S>
concept declares_buffers = has_traits<S> && S::traits.provides_buffers;

template <class S>
concept blocks_constructible = std::constructible_from<S, const block_spec&>;
template <class S>
concept blocks_allocate = requires(S& strategy, std::size_t bytes) {
    { strategy.allocate(bytes) } -> std::same_as<void*>;
};
template <class S>
concept blocks_deallocate = requires(S& strategy, void* block, std::size_t bytes) {
    strategy.deallocate(block, bytes);
};

// The vector family is checked on the element type and inline capacity of the micro suite.
using vector_probe_element = std::uint64_t;
inline constexpr std::size_t vector_probe_capacity = 8;
template <class S>
concept vector_template = requires {
    typename S::template vector<vector_probe_element, vector_probe_capacity>;
};
template <class S>
using probe_vector = typename S::template vector<vector_probe_element, vector_probe_capacity>;
template <class S>
concept vector_default_constructible = vector_template<S> && std::default_initializable<probe_vector<S>>;
template <class S>
concept vector_push_back = vector_template<S> && requires(probe_vector<S>& v, const vector_probe_element& value) {
    v.push_back(value);
};
template <class S>
concept vector_size = vector_template<S> && requires(const probe_vector<S>& v) {
    { v.size() } -> std::convertible_to<std::size_t>;
};
template <class S>
concept vector_subscript = vector_template<S> && requires(probe_vector<S>& v, std::size_t index) {
    { v[index] } -> std::convertible_to<const vector_probe_element&>;
};
template <class S>
concept vector_iterable = vector_template<S> && requires(const probe_vector<S>& v) {
    v.begin();
    v.end();
};

// The object-pool family is checked on a type with the reset() every pooled type has.
struct pooled_probe {
    void reset() {}
};
template <class S>
concept object_pool_template = requires {
    typename S::template object_pool<pooled_probe>;
};
template <class S>
using probe_object_pool = typename S::template object_pool<pooled_probe>;
template <class S>
concept object_pool_constructible =
    object_pool_template<S> && std::constructible_from<probe_object_pool<S>, std::size_t>;
template <class S>
concept object_pool_acquire = object_pool_template<S> && requires(probe_object_pool<S>& pool) {
    { pool.acquire() } -> std::same_as<pooled_probe*>;
};
template <class S>
concept object_pool_release = object_pool_template<S> && requires(probe_object_pool<S>& pool, pooled_probe* object) {
    pool.release(object);
};

template <class S>
concept buffer_type = requires {
    typename S::buffer;
};
template <class S>
concept buffer_copy_of = buffer_type<S> && requires(const void* data, std::size_t size) {
    { S::buffer::copy_of(data, size) } -> std::same_as<typename S::buffer>;
};
template <class S>
concept buffer_slice = buffer_type<S> && requires(const typename S::buffer& buffer, std::size_t offset) {
    { buffer.slice(offset, offset) } -> std::same_as<typename S::buffer>;
};
template <class S>
concept buffer_bytes = buffer_type<S> && requires(const typename S::buffer& buffer) {
    { buffer.data() } -> std::convertible_to<const std::byte*>;
    { buffer.size() } -> std::convertible_to<std::size_t>;
};

}  // namespace contract

template <class S>
concept blocks_strategy = contract::declares_blocks<S> && contract::blocks_constructible<S> &&
    contract::blocks_allocate<S> && contract::blocks_deallocate<S>;

template <class S>
concept vector_strategy =
    contract::declares_vector<S> && contract::vector_default_constructible<S> && contract::vector_push_back<S> &&
    contract::vector_size<S> && contract::vector_subscript<S> && contract::vector_iterable<S>;

template <class S>
concept object_pool_strategy = contract::declares_object_pool<S> && contract::object_pool_constructible<S> &&
    contract::object_pool_acquire<S> && contract::object_pool_release<S>;

template <class S>
concept buffer_strategy = contract::declares_buffers<S> && contract::buffer_copy_of<S> && contract::buffer_slice<S> &&
    contract::buffer_bytes<S>;

template <class S>
concept resettable = requires(S& strategy) {
    strategy.reset();
};

// A strategy that has traits and every family they declare.
template <class S>
concept any_strategy = contract::has_traits<S> &&
    (!S::traits.provides_blocks || blocks_strategy<S>)&&(!S::traits.provides_vector || vector_strategy<S>)&&(
        !S::traits.provides_object_pool || object_pool_strategy<S>)&&(!S::traits.provides_buffers ||
                                                                      buffer_strategy<S>);

// Where a strategy registers (ALLOCPROOF_REGISTER_STRATEGY, ALLOCPROOF_PLUGIN,
// register_strategy_cells): one static_assert per requirement, so that a strategy that misses one
// gets a single error naming the family and the member, from the line that registers it, instead
// of a page of template errors from deep inside a workload. True when S is any_strategy.
template <class S>
consteval bool check_strategy_contract() {
    using namespace contract;
    static_assert(has_traits<S>,
                  "allocproof strategy: missing `static constexpr allocproof::strategy_traits traits` "
                  "(its name and the families it provides)");
    static_assert(!declares_blocks<S> || blocks_constructible<S>,
                  "allocproof blocks strategy (traits.provides_blocks): missing the constructor "
                  "`explicit S(const allocproof::block_spec&)`");
    static_assert(!declares_blocks<S> || blocks_allocate<S>,
                  "allocproof blocks strategy (traits.provides_blocks): missing `void* allocate(std::size_t bytes)`");
    static_assert(!declares_blocks<S> || blocks_deallocate<S>,
                  "allocproof blocks strategy (traits.provides_blocks): missing "
                  "`void deallocate(void* block, std::size_t bytes)`");
    static_assert(!declares_vector<S> || vector_template<S>,
                  "allocproof vector strategy (traits.provides_vector): missing "
                  "`template <class T, std::size_t N> using vector`");
    static_assert(!declares_vector<S> || !vector_template<S> || vector_default_constructible<S>,
                  "allocproof vector strategy (traits.provides_vector): vector<T, N> is not default-constructible");
    static_assert(!declares_vector<S> || !vector_template<S> || vector_push_back<S>,
                  "allocproof vector strategy (traits.provides_vector): vector<T, N> misses push_back(const T&)");
    static_assert(!declares_vector<S> || !vector_template<S> || vector_size<S>,
                  "allocproof vector strategy (traits.provides_vector): vector<T, N> misses size() const");
    static_assert(!declares_vector<S> || !vector_template<S> || vector_subscript<S>,
                  "allocproof vector strategy (traits.provides_vector): vector<T, N> misses operator[](std::size_t)");
    static_assert(!declares_vector<S> || !vector_template<S> || vector_iterable<S>,
                  "allocproof vector strategy (traits.provides_vector): vector<T, N> misses begin() and end() const");
    static_assert(!declares_object_pool<S> || object_pool_template<S>,
                  "allocproof object_pool strategy (traits.provides_object_pool): missing "
                  "`template <class T> using object_pool`");
    static_assert(!declares_object_pool<S> || !object_pool_template<S> || object_pool_constructible<S>,
                  "allocproof object_pool strategy (traits.provides_object_pool): object_pool<T> misses the "
                  "constructor `explicit object_pool(std::size_t max_pooled)`");
    static_assert(
        !declares_object_pool<S> || !object_pool_template<S> || object_pool_acquire<S>,
        "allocproof object_pool strategy (traits.provides_object_pool): object_pool<T> misses `T* acquire()`");
    static_assert(!declares_object_pool<S> || !object_pool_template<S> || object_pool_release<S>,
                  "allocproof object_pool strategy (traits.provides_object_pool): object_pool<T> misses "
                  "`void release(T*)`");
    static_assert(!declares_buffers<S> || buffer_type<S>,
                  "allocproof buffers strategy (traits.provides_buffers): missing `using buffer`");
    static_assert(!declares_buffers<S> || !buffer_type<S> || buffer_copy_of<S>,
                  "allocproof buffers strategy (traits.provides_buffers): buffer misses "
                  "`static buffer copy_of(const void* data, std::size_t size)`");
    static_assert(!declares_buffers<S> || !buffer_type<S> || buffer_slice<S>,
                  "allocproof buffers strategy (traits.provides_buffers): buffer misses "
                  "`buffer slice(std::size_t offset, std::size_t size) const`");
    static_assert(!declares_buffers<S> || !buffer_type<S> || buffer_bytes<S>,
                  "allocproof buffers strategy (traits.provides_buffers): buffer misses "
                  "`const std::byte* data() const` or `std::size_t size() const`");
    return any_strategy<S>;
}

}  // namespace allocproof
