// allocproof — the strategy interface.
//
// A strategy is a class that hands out memory blocks to a workload. The harness instantiates every
// workload template with every strategy that can serve it, so a call into a strategy is a direct,
// inlinable call: no virtual dispatch sits between a workload and the strategy it measures.
//
// The contract, stated once:
//   * `static constexpr strategy_traits traits` names the strategy and declares what it can do.
//     The runner pairs a strategy only with workloads whose needs those capabilities meet.
//   * `explicit S(const block_spec&)` makes one instance for one kind of block. A workload that
//     allocates two kinds of node (64 B and 256 B, say) makes two instances, as a database keeps
//     one pool per node type.
//   * `void* allocate(std::size_t bytes)` returns a block of at least `bytes` bytes aligned to
//     `block_spec::alignment`; `bytes` never exceeds `block_spec::size` when `traits.fixed_size`.
//   * `void deallocate(void* block, std::size_t bytes)` gives a block back. Strategies without
//     `frees_individually` may ignore it and release memory only when destroyed.
//   * An instance is used by one thread at a time unless `traits.thread_safe`.
//   * Memory a strategy holds comes from the global allocator of the process (::operator new),
//     so the same strategy can be measured on top of glibc, jemalloc, mimalloc and tcmalloc.
//
// Registration: end the strategy's .cpp file with ALLOCPROOF_REGISTER_STRATEGY(type) after
// including "allocproof/register.hpp". Nothing else in the tree needs to change.
#pragma once

#include <concepts>
#include <cstddef>
#include <string_view>

namespace allocproof {

inline constexpr int strategy_interface_version = 1;

// What one strategy instance will be asked for.
struct block_spec {
    std::size_t size = 64;
    std::size_t alignment = alignof(std::max_align_t);
};

struct strategy_traits {
    std::string_view name;     // unique; the file strategies/<name>.cpp defines it
    std::string_view summary;  // one line for `allocproof list`
    bool frees_individually = true;  // deallocate() makes the block reusable at once
    bool thread_safe = false;        // one instance may be shared by threads
    bool fixed_size = false;         // serves only blocks of block_spec::size bytes
    std::size_t max_alignment = alignof(std::max_align_t);
};

template <class S>
concept allocation_strategy =
    requires(S& strategy, void* block, std::size_t bytes, const block_spec& spec) {
        { S::traits } -> std::convertible_to<strategy_traits>;
        S(spec);
        { strategy.allocate(bytes) } -> std::same_as<void*>;
        strategy.deallocate(block, bytes);
    };

}  // namespace allocproof
