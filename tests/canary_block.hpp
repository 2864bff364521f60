// A block filled with one canary byte, for tests that check live blocks keep their contents.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace allocproof::testing {

struct canary_block {
    unsigned char* data;
    std::size_t size;
    unsigned char canary;
};

inline void fill(const canary_block& b) { std::memset(b.data, b.canary, b.size); }

inline bool intact(const canary_block& b) {
    return std::all_of(b.data, b.data + b.size, [&](unsigned char c) { return c == b.canary; });
}

}  // namespace allocproof::testing
