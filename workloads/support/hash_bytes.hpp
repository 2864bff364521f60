// hash_bytes — a 64-bit FNV-1a over a byte range: how the text workloads fold strings they read
// back from strategy memory into a digest, and how the interner finds a string's bucket.
// FNV-1a is byte-at-a-time and slow for long inputs, but identical everywhere and short enough
// for the names and keys these workloads handle (a few dozen bytes).
#pragma once

#include <cstddef>
#include <cstdint>

namespace allocproof::workloads::support {

inline std::uint64_t hash_bytes(const void* data, std::size_t size, std::uint64_t seed = 0) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    std::uint64_t h = 0xCBF29CE484222325ULL ^ seed;
    for (std::size_t i = 0; i < size; ++i) {
        h = (h ^ bytes[i]) * 0x100000001B3ULL;
    }
    return h;
}

}  // namespace allocproof::workloads::support
