// Blocks that one thread allocates and writes and another thread reads and frees: what the
// cross-thread workloads (larson, producer_consumer) have in common.
//
//   serves_cross_thread_blocks<S>   the strategies that can serve them honestly: blocks freed one
//                                   by one, by any thread, from instances shared by all threads
//   size_classed_blocks<S>          one shared instance of S per power-of-two size class (16 B ..
//                                   1 KiB), so fixed-size pools serve variable sizes as a server
//                                   keeps one pool per class; `bytes` goes to the instance as
//                                   asked, so a general allocator (std) still sees the real size
//   random_block_bytes              8 .. 1000 bytes, uniform, as in Larson & Krishnan's server runs
//
// Content: the allocating thread fills every byte of a block and the freeing thread reads every
// byte back into the digest (support/block_contents.hpp). This once wrote one word per 64-byte
// line, to touch every line the strategy hands out without becoming a memset/memcmp benchmark;
// but a block nested in a live one, or overlapping a neighbour by 16 bytes, then went unseen
// whenever its writes fell between the sampled words. A 500-byte block costs a streaming write and
// read of 63 words, on every strategy alike.
#pragma once

#include "allocproof/strategy.hpp"
#include "workloads/support/block_contents.hpp"

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace allocproof::workloads::support {

inline constexpr std::size_t cross_thread_alignment = 16;

template <class S>
inline constexpr bool serves_cross_thread_blocks =
    S::traits.provides_blocks&& S::traits.frees_individually&& S::traits.thread_safe&& S::traits.cross_thread_free &&
    !S::traits.may_refuse && S::traits.max_alignment >= cross_thread_alignment;

inline constexpr std::size_t min_block_bytes = 8;
inline constexpr std::size_t max_block_bytes = 1000;

template <class Random>
std::size_t random_block_bytes(Random& random) {
    return min_block_bytes + random.below(max_block_bytes - min_block_bytes + 1);
}

template <class S>
class size_classed_blocks {
public:
    static constexpr std::size_t classes = 7;  // 16, 32, ..., 1024
    static constexpr std::size_t smallest = 16;
    static_assert(smallest << (classes - 1) >= max_block_bytes);

    size_classed_blocks() : pools_(make(std::make_index_sequence<classes>{})) {}
    size_classed_blocks(const size_classed_blocks&) = delete;
    size_classed_blocks& operator=(const size_classed_blocks&) = delete;

    void* allocate(std::size_t bytes) { return pools_[class_of(bytes)].allocate(bytes); }
    void deallocate(void* block, std::size_t bytes) { pools_[class_of(bytes)].deallocate(block, bytes); }

    static constexpr std::size_t class_of(std::size_t bytes) {
        const auto width = static_cast<std::size_t>(std::bit_width(bytes - 1));  // 16 -> 4, 17 -> 5, 1000 -> 10
        return width <= 4 ? 0 : width - 4;
    }

private:
    template <std::size_t... Is>
    static std::array<S, classes> make(std::index_sequence<Is...>) {
        return {{S(block_spec{smallest << Is, cross_thread_alignment})...}};
    }

    std::array<S, classes> pools_;
};

}  // namespace allocproof::workloads::support
