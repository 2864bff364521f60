// block_contents — what a workload writes over the whole of a block whose bytes are its own
// payload, and how it reads every byte back when it releases the block (verify-on-free).
//
// Why every byte: a digest that samples a few words of each block (its ends, one word per page or
// per cache line) misses a strategy that places a small block inside a live larger one, or lets
// neighbours overlap by a few bytes, whenever the foreign writes fall between the samples. Filled
// in full and read back in full, any byte changed while the block was live changes what
// read_back() returns, and so the digest it is folded into.
//
// The pattern: the block's key in its first word, then key + w * step in word w, and the bytes of
// the next pattern word in a tail shorter than a word. Each word differs from its neighbours and
// from every other key's, so a block written at another offset never reproduces it; and both loops
// are plain induction-variable loops the compiler vectorises, so the cost is one streaming write
// at allocation and one streaming read at release, like the memset/memcmp of a real payload.
// Blocks are at least one word long and word-aligned (every caller's blocks are).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace allocproof::workloads::support {

inline constexpr std::uint64_t block_content_step = 0x9E3779B97F4A7C15ULL;

inline void fill(void* block, std::size_t bytes, std::uint64_t key) {
    auto* words = static_cast<std::uint64_t*>(block);
    const std::size_t count = bytes / sizeof(std::uint64_t);
    for (std::size_t w = 0; w < count; ++w) words[w] = key + w * block_content_step;
    if (const std::size_t tail = bytes % sizeof(std::uint64_t); tail != 0) {
        const std::uint64_t next = key + count * block_content_step;
        std::memcpy(words + count, &next, tail);
    }
}

// The key fill() wrote when every byte is as it left it; otherwise a different value (the key
// found in the first word, mixed with every bit that differs from the pattern that key gives).
[[nodiscard]] inline std::uint64_t read_back(const void* block, std::size_t bytes) {
    const auto* words = static_cast<const std::uint64_t*>(block);
    const std::size_t count = bytes / sizeof(std::uint64_t);
    const std::uint64_t key = words[0];
    std::uint64_t changed = 0;
    for (std::size_t w = 1; w < count; ++w) changed |= words[w] ^ (key + w * block_content_step);
    if (const std::size_t tail = bytes % sizeof(std::uint64_t); tail != 0) {
        const std::uint64_t next = key + count * block_content_step;
        changed |= static_cast<std::uint64_t>(std::memcmp(words + count, &next, tail) != 0);
    }
    return key ^ (changed * 0xFF51AFD7ED558CCDULL);  // an odd factor: nonzero stays nonzero
}

}  // namespace allocproof::workloads::support
