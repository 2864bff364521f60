// allocproof — the contract a cell checks on every block a strategy hands out while it is measured.
//
// checked_blocks<S> is S as the workloads see it in a cell (strategy_cells.hpp): the same traits,
// the same families (vector, object_pool, buffer, reset), and an allocate() that checks the block's
// alignment: the block_spec's, as far as S declares it can (traits.max_alignment). A strategy that
// declares more alignment than it gives would otherwise be measured as aligned storage (the
// workloads' SIMD kernels load unaligned, so nothing crashes). The check is one AND and a branch
// predicted not taken; a failure ends the cell with exit_conformance_failed and one line on stderr,
// which the driver records as the cell's reason, with status `invalid`.
#pragma once

#include "allocproof/exit_codes.hpp"
#include "allocproof/strategy.hpp"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace allocproof {

// The exit code of a cell program whose strategy broke its contract (a misaligned block here, or a
// failed check of the cell program's --conformance mode); harness/driver/results.cpp reads it.
inline constexpr int exit_conformance_failed = exit_codes::cell::conformance_failed;

// Ends the process: "allocproof-cell: conformance check failed: <check>: <what>" on stderr.
[[noreturn]] inline void conformance_check_failed(const char* check, const char* what) {
    std::fprintf(stderr, "allocproof-cell: conformance check failed: %s: %s\n", check, what);
    std::fflush(stderr);
    std::_Exit(exit_conformance_failed);
}

// The alignment a block of `bytes` must have when a strategy that declares max_alignment
// `declared` is asked for `asked`: what was asked, up to what the strategy declares, and never more
// than the largest power of two in `bytes`, since no object that fits in the block can need more.
// That is the rule operator new keeps too: jemalloc hands an 8-byte request an 8-byte-aligned block.
constexpr std::size_t required_alignment(std::size_t bytes, std::size_t asked, std::size_t declared) {
    return std::max<std::size_t>(1, std::min({asked, declared, std::bit_floor(bytes | 1)}));
}

namespace detail {

[[noreturn, gnu::cold, gnu::noinline]] inline void misaligned_block(std::string_view strategy, const void* block,
                                                                    std::size_t asked, std::size_t declared) {
    const auto address = reinterpret_cast<std::uintptr_t>(block);
    char what[256];
    std::snprintf(what, sizeof what,
                  "strategy '%.*s' returned a block at 0x%llx, aligned to %llu bytes, where the block_spec asked "
                  "for %zu (it declares max_alignment %zu)",
                  static_cast<int>(strategy.size()), strategy.data(), static_cast<unsigned long long>(address),
                  static_cast<unsigned long long>(address & (~address + 1)), asked, declared);
    conformance_check_failed("alignment", what);
}

// The families other than blocks, forwarded as S has them; a family S lacks stays absent.
template <class S, bool = S::traits.provides_vector>
struct vector_family {};
template <class S>
struct vector_family<S, true> {
    template <class T, std::size_t N>
    using vector = typename S::template vector<T, N>;
};
template <class S, bool = S::traits.provides_object_pool>
struct object_pool_family {};
template <class S>
struct object_pool_family<S, true> {
    template <class T>
    using object_pool = typename S::template object_pool<T>;
};
template <class S, bool = S::traits.provides_buffers>
struct buffers_family {};
template <class S>
struct buffers_family<S, true> {
    using buffer = typename S::buffer;
};

}  // namespace detail

// By composition, not inheritance: some strategies are final.
template <blocks_strategy S>
class checked_blocks : public detail::vector_family<S>,
                       public detail::object_pool_family<S>,
                       public detail::buffers_family<S> {
public:
    static constexpr strategy_traits traits = S::traits;

    explicit checked_blocks(const block_spec& spec)
        : strategy_(spec), asked_(spec.alignment), alignment_mask_(checked_alignment(spec) - 1) {}

    void* allocate(std::size_t bytes) {
        void* block = strategy_.allocate(bytes);
        // alignment_mask_ and the mask of bytes' largest power of two are both all-ones masks: their
        // AND is the mask of the smaller, required_alignment's rule in two instructions.
        const std::uintptr_t mask = alignment_mask_ & (std::bit_floor(bytes | 1) - 1);
        if ((reinterpret_cast<std::uintptr_t>(block) & mask) != 0) [[unlikely]] {
            detail::misaligned_block(S::traits.name, block, asked_, S::traits.max_alignment);
        }
        return block;
    }
    void deallocate(void* block, std::size_t bytes) { strategy_.deallocate(block, bytes); }
    void reset() requires resettable<S> { strategy_.reset(); }

private:
    static std::size_t checked_alignment(const block_spec& spec) {
        return std::max<std::size_t>(1, std::min(spec.alignment, S::traits.max_alignment));
    }

    S strategy_;
    std::size_t asked_;
    std::uintptr_t alignment_mask_;
};

// What a cell instantiates the workloads with: S checked where it provides blocks, S itself else.
template <class S>
struct measured_strategy_of {
    using type = S;
};
template <class S>
requires(S::traits.provides_blocks) struct measured_strategy_of<S> {
    using type = checked_blocks<S>;
};
template <class S>
using measured_strategy = typename measured_strategy_of<S>::type;

}  // namespace allocproof
