// Byte-level helpers shared by the workloads that serialise records or check byte contents
// (memtable_wal, table_pool, txn_sets): fixed-width integers in and out of byte buffers, and a
// checksum that reads every byte, so a digest built from it notices overwritten memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace allocproof::workloads::support {

inline void store_u32(std::byte* at, std::uint32_t value) { std::memcpy(at, &value, sizeof value); }
inline void store_u64(std::byte* at, std::uint64_t value) { std::memcpy(at, &value, sizeof value); }

inline std::uint32_t load_u32(const std::byte* at) {
    std::uint32_t value;
    std::memcpy(&value, at, sizeof value);
    return value;
}
inline std::uint64_t load_u64(const std::byte* at) {
    std::uint64_t value;
    std::memcpy(&value, at, sizeof value);
    return value;
}

// Big-endian, so that memcmp orders keys as their numbers (as LSM keys are compared).
inline void store_u64_big_endian(std::byte* at, std::uint64_t value) {
    for (int i = 7; i >= 0; --i) {
        at[i] = static_cast<std::byte>(value & 0xFF);
        value >>= 8;
    }
}

// Reads every byte: word by word, then the tail. Not a hash to be proud of, only one that any
// changed byte changes (with overwhelming probability).
inline std::uint64_t bytes_checksum(const std::byte* data, std::size_t size) {
    std::uint64_t sum = 0x243F6A8885A308D3ULL ^ size;
    std::size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        sum = (sum ^ load_u64(data + i)) * 0x100000001B3ULL;
    }
    for (; i < size; ++i) {
        sum = (sum ^ static_cast<std::uint64_t>(data[i])) * 0x100000001B3ULL;
    }
    return sum ^ (sum >> 29);
}

}  // namespace allocproof::workloads::support
