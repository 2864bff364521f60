// string_pool — a stream of records naming keys with a skewed (Zipf-like) popularity; each record
// keeps its key's string for a while. Variant `plain`: every record makes its own copy. Variant
// `interned`: a bounded interner (hash map + LRU list) hands out shared, reference-counted
// entries and evicts the least recently used when it is full.
//
// Models: seed 003's (Lightning DB) string pool "with LRU eviction" that "eliminates duplicate
// string storage" (claim L3-7: 30-50% fewer string allocations), as a metrics or log ingester
// keeps series and tag names: the same few names arrive again and again, and a record holds its
// name until it is flushed. The entries are like Arc<str>: an evicted entry stays alive as long as
// a record still holds it. The figure that matters is allocator calls per operation (the harness
// counts global operator new calls; with a pooling strategy only its refills reach it) and ns/op.
// Does not model: concurrent interning (each thread has its own interner), the seed's FxHash (the
// hash here is FNV-1a), or memory accounting by bytes (the bound is a number of entries).
//
// working_set distinct keys of 16-48 characters (past any small-string buffer), drawn log-
// uniformly by rank (P(rank) ~ 1/rank); 512 records in flight (a ring: each operation replaces
// the oldest); the interner holds at most working_set / 4 entries. String bytes come from the
// blocks strategy in one block per string (sizes vary: size classes for fixed-size strategies).
// Digest: each record's string as read back when the record is retired, and the count of misses;
// an interned entry's hash and string are read again when its last holder frees it (its links
// are addresses, followed rather than folded), so every byte of every block is checked at release.
#pragma once

#include "allocproof/registry.hpp"
#include "allocproof/strategy.hpp"
#include "allocproof/workload.hpp"
#include "workloads/support/hash_bytes.hpp"
#include "workloads/support/tagged_blocks.hpp"
#include "workloads/support/text_block.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace allocproof::workloads {

struct string_pool {
    static constexpr std::array<std::string_view, 2> variant_names{"plain", "interned"};
    static constexpr workload_traits traits{
        .name = "string_pool",
        .summary = "Zipf-skewed key names held by 512 in-flight records: own copies vs an LRU interner",
        .quick_scale = {.ops_per_thread = 40'000, .working_set = 20'000, .warmup_ops = 4'000},
        .default_scale = {.ops_per_thread = 110'000, .working_set = 20'000, .warmup_ops = 11'000},
        .test_scale = {.ops_per_thread = 2'000, .working_set = 1'000, .warmup_ops = 200},
        .families = "blocks",
        .claims = "L3-7",
        .variants = variant_names,
    };

    static constexpr std::size_t max_key_size = 48;
    static constexpr std::size_t in_flight = 512;

    template <class S>
    static constexpr bool accepts =
        support::serves_tagged_blocks<S>&& S::traits.frees_individually && !S::traits.may_refuse;

    template <class S>
    class worker {
    public:
        worker(const workload_params& params, unsigned thread_index)
            : random_(thread_seed(params.seed, thread_index)),
              interned_(params.variant == 1),
              blocks_(sizeof(entry) + max_key_size),
              capacity_(std::max<std::uint64_t>(params.scale.working_set / 4, 16)),
              buckets_(std::bit_ceil(2 * capacity_), nullptr),
              records_(in_flight, nullptr) {
            static constexpr std::array<std::string_view, 12> words{"http",  "requests", "latency", "db",
                                                                    "cache", "hits",     "errors",  "bytes",
                                                                    "queue", "depth",    "cpu",     "region"};
            keys_.reserve(std::max<std::uint64_t>(params.scale.working_set, 1));
            for (std::uint64_t k = 0; k < keys_.capacity(); ++k) {
                std::uint64_t r = random_.next();
                std::string key = "svc";
                while (key.size() < 16 || (key.size() < 32 && r % 3 != 0)) {
                    key += '.';
                    key += words[r % words.size()];
                    r = r / words.size() + 0x9E37;
                }
                key += '.';
                key += std::to_string(k);
                keys_.push_back(std::move(key));
            }
            log_keys_ = std::log(static_cast<double>(keys_.size()) + 1.0);
        }

        worker(const worker&) = delete;
        worker& operator=(const worker&) = delete;
        ~worker() { drop_everything(); }

        void operation(std::uint64_t index) {
            const std::string_view key = keys_[pick_rank()];
            void*& slot = records_[index % in_flight];
            if (slot != nullptr) retire(slot);
            slot = interned_ ? static_cast<void*>(intern(key)) : static_cast<void*>(text::copy(blocks_, key));
        }

        std::uint64_t finish() {
            drop_everything();
            digest_ = digest_fold(digest_, misses_);
            return digest_fold(digest_, blocks_.overlaps());
        }

        std::size_t live_bytes_peak() const { return blocks_.live_bytes_peak(); }
        std::size_t live_bytes() const { return blocks_.live_bytes(); }

    private:
        using text = support::text_block;

        // An interned string: chained in its bucket, linked in the LRU list (newest at the head),
        // the characters right after it in the same block.
        struct entry {
            entry* chain;
            entry* newer;
            entry* older;
            std::uint64_t hash;
            std::uint32_t refs;  // records holding it, plus one while the pool does
            std::uint32_t size;
            const char* bytes() const { return reinterpret_cast<const char*>(this) + sizeof(entry); }
            char* bytes() { return reinterpret_cast<char*>(this) + sizeof(entry); }
            std::string_view view() const { return {bytes(), size}; }
        };

        // Rank r with probability about 1/(r+1): log-uniform over [1, n+1).
        std::size_t pick_rank() {
            const double u = static_cast<double>(random_.next() >> 11) * 0x1.0p-53;
            const auto rank = static_cast<std::size_t>(std::exp(u * log_keys_)) - 1;
            return std::min(rank, keys_.size() - 1);
        }

        void retire(void*& slot) {
            std::string_view held;
            if (interned_) {
                held = static_cast<entry*>(slot)->view();
            } else {
                held = static_cast<text*>(slot)->view();
            }
            digest_ = digest_fold(digest_, support::hash_bytes(held.data(), held.size()));
            if (interned_) {
                unreference(static_cast<entry*>(slot));
            } else {
                text::release(blocks_, static_cast<text*>(slot));
            }
            slot = nullptr;
        }

        entry* intern(std::string_view key) {
            const std::uint64_t hash = support::hash_bytes(key.data(), key.size());
            entry*& head = buckets_[hash & (buckets_.size() - 1)];
            for (entry* e = head; e != nullptr; e = e->chain) {
                if (e->hash == hash && e->view() == key) {
                    unlink_lru(e);
                    push_lru(e);
                    ++e->refs;
                    return e;
                }
            }
            ++misses_;
            if (pooled_ == capacity_) evict(lru_oldest_);
            auto* e = static_cast<entry*>(blocks_.allocate(sizeof(entry) + key.size()));
            e->hash = hash;
            e->size = static_cast<std::uint32_t>(key.size());
            e->refs = 2;  // the pool's and the caller's
            std::memcpy(e->bytes(), key.data(), key.size());
            e->chain = head;
            head = e;
            push_lru(e);
            ++pooled_;
            return e;
        }

        void evict(entry* e) {
            entry** link = &buckets_[e->hash & (buckets_.size() - 1)];
            while (*link != e) link = &(*link)->chain;
            *link = e->chain;
            unlink_lru(e);
            --pooled_;
            unreference(e);
        }

        void unreference(entry* e) {
            if (--e->refs != 0) return;
            digest_ = digest_fold(digest_, e->hash ^ support::hash_bytes(e->bytes(), e->size));
            blocks_.deallocate(e, sizeof(entry) + e->size);
        }

        void push_lru(entry* e) {
            e->newer = nullptr;
            e->older = lru_newest_;
            if (lru_newest_ != nullptr) lru_newest_->newer = e;
            lru_newest_ = e;
            if (lru_oldest_ == nullptr) lru_oldest_ = e;
        }
        void unlink_lru(entry* e) {
            (e->newer != nullptr ? e->newer->older : lru_newest_) = e->older;
            (e->older != nullptr ? e->older->newer : lru_oldest_) = e->newer;
        }

        void drop_everything() {
            for (void*& slot : records_) {
                if (slot != nullptr) retire(slot);
            }
            while (lru_oldest_ != nullptr) evict(lru_oldest_);
        }

        split_mix random_;
        bool interned_;
        support::tagged_blocks<S> blocks_;
        std::uint64_t capacity_;
        std::vector<entry*> buckets_;
        std::vector<void*> records_;     // text* (plain) or entry* (interned)
        std::vector<std::string> keys_;  // the incoming names, as the input carries them
        double log_keys_ = 0;
        entry* lru_newest_ = nullptr;
        entry* lru_oldest_ = nullptr;
        std::uint64_t pooled_ = 0;
        std::uint64_t misses_ = 0;
        std::uint64_t digest_ = 0;
    };
};

}  // namespace allocproof::workloads

ALLOCPROOF_REGISTER_WORKLOAD(allocproof::workloads::string_pool)
