// text_block — a string kept in one block of a blocks strategy: its length, then its characters,
// allocated to fit (no terminator, no capacity). How the text workloads copy keys, names and
// labels into strategy memory, so that every string costs one allocation, as a std::string past
// its small-string buffer does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace allocproof::workloads::support {

struct text_block {
    std::uint32_t size;

    char* bytes() { return reinterpret_cast<char*>(this) + sizeof(text_block); }
    const char* bytes() const { return reinterpret_cast<const char*>(this) + sizeof(text_block); }
    std::string_view view() const { return {bytes(), size}; }
    static std::size_t block_size(std::size_t size) { return sizeof(text_block) + size; }

    // Characters left for the caller to write.
    template <class Blocks>
    static text_block* make(Blocks& blocks, std::size_t size) {
        auto* t = static_cast<text_block*>(blocks.allocate(block_size(size)));
        t->size = static_cast<std::uint32_t>(size);
        return t;
    }
    template <class Blocks>
    static text_block* copy(Blocks& blocks, std::string_view from) {
        text_block* t = make(blocks, from.size());
        if (!from.empty()) std::memcpy(t->bytes(), from.data(), from.size());
        return t;
    }
    template <class Blocks>
    static void release(Blocks& blocks, text_block* t) {
        blocks.deallocate(t, block_size(t->size));
    }
};

}  // namespace allocproof::workloads::support
