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
// including "allocproof/register.hpp". Nothing else in the tree needs to change. Out of the tree,
// the same class goes into a plugin instead: ALLOCPROOF_PLUGIN (allocproof/plugin.hpp).
#pragma once

#include <concepts>
#include <cstddef>
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

template <class S>
concept blocks_strategy =
    S::traits.provides_blocks &&
    requires(S& strategy, void* block, std::size_t bytes, const block_spec& spec) {
        S(spec);
        { strategy.allocate(bytes) } -> std::same_as<void*>;
        strategy.deallocate(block, bytes);
    };

template <class S>
concept resettable = requires(S& strategy) { strategy.reset(); };

template <class S>
concept any_strategy = requires {
    { S::traits } -> std::convertible_to<strategy_traits>;
} && (!S::traits.provides_blocks || blocks_strategy<S>);

}  // namespace allocproof
