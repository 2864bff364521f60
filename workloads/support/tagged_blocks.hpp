// tagged_blocks<S> — how a workload with blocks of several sizes uses a blocks strategy S, and how
// it notices a block that is handed out while it is still live.
//
// Size classes: a fixed_size strategy serves one block size per instance, as a database keeps one
// pool per node size; so for such an S this keeps one instance per power-of-two class (16 B up to
// `largest`), created at the class's first use. Any other S gets a single instance, asked for the
// exact size: an arena or a general-purpose pool does its own size handling.
//
// Live tags: every block carries a 16-byte prefix (also for the baseline, so every strategy pays
// the same bytes) holding a tag derived from the block's address and a salt unique to this
// instance and reset epoch. A block whose prefix already holds the live tag when the strategy
// hands it out is still in use: this is counted as an overlap (workloads fold the count into
// their digest) and the object goes to ::operator new instead, so a wrong strategy changes the
// digest without making the workload follow pointers through overwritten memory (which would
// crash rather than fail a comparison, and leak the overwritten objects' own buffers). Freeing
// clears the tag; a tag found changed at free time is counted as an overlap too.
//
// Refusals: a may_refuse strategy (budget pools) returns nullptr when its budget is spent; the
// object then comes from ::operator new, is counted in refusals(), and the logical work is the
// same as with any other strategy.
//
// release_all(): for strategies that free only on reset (arenas), every instance is reset and a
// new salt begins, so the stale tags left in recycled chunks can never match again.
#pragma once

#include "allocproof/strategy.hpp"
#include "allocproof/workload.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <stdexcept>

namespace allocproof::workloads::support {

// The global allocator as a blocks strategy: for a workload that needs blocks when S provides
// only another family (the plain std way).
struct global_new_blocks {
    static constexpr strategy_traits traits{.name = "global_new", .summary = "", .origin = ""};
    explicit global_new_blocks(const block_spec&) {}
    void* allocate(std::size_t bytes) { return ::operator new(bytes); }
    void deallocate(void* block, std::size_t bytes) { ::operator delete(block, bytes); }
};

inline constexpr std::size_t block_prefix = 16;

// One counter for the whole process, not one per tagged_blocks<S>: a tag left by a
// tagged_blocks<arena> in memory that went back to the heap must not match the tag a
// tagged_blocks<arena_pool> with the same salt writes at the same address in a later cell.
inline std::atomic<std::uint64_t> tag_salt_counter{0};
inline constexpr std::size_t block_alignment = 16;

// Whether S can hand out the blocks tagged_blocks asks for; each workload adds its own demands
// (individual frees, resets, refusals).
template <class S>
inline constexpr bool serves_tagged_blocks = S::traits.provides_blocks&& S::traits.max_alignment >= block_alignment;

template <class S>
class tagged_blocks {
public:
    static constexpr bool frees_individually = S::traits.frees_individually;
    static constexpr bool per_class = S::traits.fixed_size;
    static constexpr std::size_t max_classes = 12;  // 16 B .. 32 KiB

    // `largest`: the largest block a caller asks for, prefix excluded.
    explicit tagged_blocks(std::size_t largest) : salt_(fresh_salt()) {
        largest_raw_ = largest + block_prefix;
        if constexpr (per_class) {
            if (class_of(largest_raw_) >= max_classes) throw std::length_error("tagged_blocks: too large");
        } else {
            instances_[0].emplace(block_spec{largest_raw_, block_alignment});
        }
    }
    tagged_blocks(const tagged_blocks&) = delete;
    tagged_blocks& operator=(const tagged_blocks&) = delete;

    void* allocate(std::size_t bytes) {
        const std::size_t raw_bytes = bytes + block_prefix;
        S& strategy = instance_for(raw_bytes);
        auto* raw = static_cast<std::byte*>(strategy.allocate(raw_bytes));
        std::uint64_t tag;
        if (raw == nullptr) [[unlikely]] {
            ++refusals_;
            raw = fallback(raw_bytes, tag);
        } else if (read_tag(raw) == live_tag(raw)) [[unlikely]] {
            ++overlaps_;  // the strategy's block stays with whoever holds it
            raw = fallback(raw_bytes, tag);
        } else {
            tag = live_tag(raw);
        }
        write_tag(raw, tag);
        live_bytes_ += bytes;
        live_bytes_peak_ = std::max(live_bytes_peak_, live_bytes_);
        return raw + block_prefix;
    }

    void deallocate(void* block, std::size_t bytes) {
        std::byte* raw = static_cast<std::byte*>(block) - block_prefix;
        const std::size_t raw_bytes = bytes + block_prefix;
        const std::uint64_t tag = read_tag(raw);
        live_bytes_ -= bytes;
        if (tag == fallback_tag(raw)) [[unlikely]] {
            write_tag(raw, 0);
            ::operator delete (raw, raw_bytes, std::align_val_t{block_alignment});
            return;
        }
        if (tag != live_tag(raw)) [[unlikely]]
            ++overlaps_;
        write_tag(raw, 0);
        instance_for(raw_bytes).deallocate(raw, raw_bytes);
    }

    // Frees everything at once: only for strategies that free on reset, and only once no block
    // taken from ::operator new (a refusal or an overlap) is live — which cannot happen with the
    // strategies that reach here (none of them refuses, and each overlap is counted anyway).
    void release_all() requires resettable<S> {
        for (auto& instance : instances_) {
            if (instance) instance->reset();
        }
        salt_ = fresh_salt();
        live_bytes_ = 0;
    }

    std::uint64_t overlaps() const { return overlaps_; }
    std::uint64_t refusals() const { return refusals_; }
    std::size_t live_bytes() const { return live_bytes_; }
    std::size_t live_bytes_peak() const { return live_bytes_peak_; }

private:
    static std::size_t class_of(std::size_t raw_bytes) {
        return static_cast<std::size_t>(std::bit_width(std::max<std::size_t>(raw_bytes, 16) - 1)) - 4;
    }

    S& instance_for(std::size_t raw_bytes) {
        if constexpr (per_class) {
            auto& slot = instances_[class_of(raw_bytes)];
            if (!slot) [[unlikely]] {
                slot.emplace(block_spec{std::size_t{16} << class_of(raw_bytes), block_alignment});
            }
            return *slot;
        } else {
            return *instances_[0];
        }
    }

    std::byte* fallback(std::size_t raw_bytes, std::uint64_t& tag) {
        auto* raw = static_cast<std::byte*>(::operator new (raw_bytes, std::align_val_t{block_alignment}));
        tag = fallback_tag(raw);
        return raw;
    }

    // Different for every instance and epoch of the process, so that a tag left behind in memory
    // that went back to the global allocator without being freed block by block never matches.
    static std::uint64_t fresh_salt() {
        return split_mix(tag_salt_counter.fetch_add(1, std::memory_order_relaxed)).next();
    }
    std::uint64_t live_tag(const std::byte* raw) const {
        return split_mix(reinterpret_cast<std::uintptr_t>(raw) ^ salt_).next() | 1;
    }
    std::uint64_t fallback_tag(const std::byte* raw) const { return live_tag(raw) ^ 0xFA11BAC000000000ULL; }
    static std::uint64_t read_tag(const std::byte* raw) { return *reinterpret_cast<const std::uint64_t*>(raw); }
    static void write_tag(std::byte* raw, std::uint64_t tag) { *reinterpret_cast<std::uint64_t*>(raw) = tag; }

    std::array<std::optional<S>, max_classes> instances_;
    std::size_t largest_raw_ = 0;
    std::uint64_t salt_;
    std::uint64_t overlaps_ = 0;
    std::uint64_t refusals_ = 0;
    std::size_t live_bytes_ = 0;
    std::size_t live_bytes_peak_ = 0;
};

}  // namespace allocproof::workloads::support
