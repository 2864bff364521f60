// txn_sets — optimistic transactions over a key/value store: each transaction reads and writes a
// few keys, records what it read in a read set and what it wrote in a write set (with a hash index
// by key bytes for read-your-own-writes), validates the read set at commit and applies the writes.
//
// Models: Lightning DB's transactions (seed 003): read sets as `SmallVec<[ReadOp; 8]>` (claim
// L3-1's technique, applied to transactions), write sets indexed by an FxHashMap instead of a
// SipHash HashMap (claim L3-6), pooled hash maps for transaction operations (the index here is
// one per worker, cleared per transaction, so the variants compare hashing, not allocation), and
// many threads committing at once, each with its own store (claim L3-10: the vector strategies
// that stay inline never reach the global allocator, so they cannot contend on it).
//   * The read set and the write set are the strategy's vectors, made afresh for each transaction
//     (a transaction object per transaction): `std` allocates on each set's first push,
//     small-vector strategies stay inline up to 8 operations.
//   * Most transactions have 2-11 operations; one in 8 has 12-31, so the sets spill past 8.
// Does not model: concurrency control between threads (each thread's store is its own, so
// validation always succeeds, but is still performed), durability, or range reads.
//
// Variants — the hash function of the write-set index (keys are 24 bytes):
//   std_hash   std::hash<std::string_view> (libstdc++: 64-bit Murmur-style over the bytes);
//   fast_hash  a multiplicative word hash in the style of FxHash: rotate, xor, multiply per word;
//   tpcc_mix   std_hash, with the read- and write-set sizes of TPC-C's transaction mix instead of
//              the sizes above (claim L3-1: a realistic share of sets past the inline 8). Per
//              transaction type (share of the mix; reads; writes; L = order lines):
//                New-Order     45%  3 + 2L     3 + 2L    L 5-15 (item and stock read, stock
//                                                        updated, order line inserted per line)
//                Payment       43%  3          4         (warehouse, district, customer; history)
//                Order-Status   4%  2 + L      0         L 5-15
//                Delivery       4%  30 + L     30 + L    L 50-150 (10 districts' oldest orders)
//                Stock-Level    4%  1 + 2L     0         L 100-300 (the last 20 orders' lines, stock)
//              so Payment's sets stay inline, and New-Order's, Delivery's and Stock-Level's spill
//              (about 55% of transactions spill a set). Reads and writes interleave at random.
// One operation is one transaction.
//
// The digest folds each committed transaction's read set (key, version seen, value) and write set
// (key bytes, value), read back from the vectors at commit: vectors that share storage change it.
#pragma once

#include "allocproof/registry.hpp"
#include "allocproof/strategy.hpp"
#include "allocproof/workload.hpp"
#include "workloads/support/bytes.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string_view>
#include <vector>

namespace allocproof::workloads {

struct txn_sets {
    static constexpr std::array<std::string_view, 3> variant_names{"std_hash", "fast_hash", "tpcc_mix"};
    enum variant : unsigned { std_hash = 0, fast_hash = 1, tpcc_mix = 2 };

    static constexpr workload_traits traits{
        .name = "txn_sets",
        .summary = "transactions: small read/write-set vectors, write-set index by key bytes, std vs fast hash",
        .quick_scale = {.ops_per_thread = 30'000, .working_set = 4'096, .warmup_ops = 3'000},
        .default_scale = {.ops_per_thread = 80'000, .working_set = 4'096, .warmup_ops = 8'000},
        .test_scale = {.ops_per_thread = 1'500, .working_set = 256, .warmup_ops = 150},
        .families = "vector",
        .claims = "L3-1 L3-6 L3-10",
        .variants = variant_names,
    };

    static constexpr std::size_t key_bytes = 24;
    static constexpr std::size_t inline_ops = 8;
    static constexpr std::size_t max_ops = 31;
    static constexpr std::size_t index_slots = 64;        // > 2 * max_ops: probes stay short
    static constexpr std::size_t tpcc_index_slots = 512;  // > 2 * 180, tpcc_mix's largest write set

    // One TPC-C transaction type: its share of the mix (percent), and its reads and writes as a
    // fixed part plus a part per order line, with lines_min..lines_max lines.
    struct tpcc_type {
        unsigned share;
        std::size_t reads, reads_per_line, writes, writes_per_line, lines_min, lines_max;
    };
    static constexpr std::array<tpcc_type, 5> tpcc_types{tpcc_type{45, 3, 2, 3, 2, 5, 15},     // New-Order
                                                         tpcc_type{43, 3, 0, 4, 0, 0, 0},      // Payment
                                                         tpcc_type{4, 2, 1, 0, 0, 5, 15},      // Order-Status
                                                         tpcc_type{4, 30, 1, 30, 1, 50, 150},  // Delivery
                                                         tpcc_type{4, 1, 2, 0, 0, 100, 300}};  // Stock-Level

    template <class S>
    static constexpr bool accepts = S::traits.provides_vector;

    using key = std::array<std::byte, key_bytes>;

    struct std_hasher {
        std::uint64_t operator()(const key& k) const {
            return std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(k.data()), k.size()));
        }
    };
    struct fast_hasher {
        std::uint64_t operator()(const key& k) const {
            std::uint64_t h = 0;
            for (std::size_t i = 0; i < key_bytes; i += 8) {
                h = (std::rotl(h, 5) ^ support::load_u64(k.data() + i)) * 0x517CC1B727220A95ULL;
            }
            return h;
        }
    };

    struct read_op {
        std::uint64_t key_id;
        std::uint64_t version;
        std::int64_t value;
    };
    struct write_op {
        key k;
        std::uint64_t key_id;
        std::int64_t value;
    };

    template <class S>
    class worker {
        using read_set = typename S::template vector<read_op, inline_ops>;
        using write_set = typename S::template vector<write_op, inline_ops>;

    public:
        worker(const workload_params& params, unsigned thread_index)
            : variant_(static_cast<variant>(params.variant)),
              random_(thread_seed(params.seed, thread_index)),
              values_(std::max<std::uint64_t>(params.scale.working_set, 1)),
              versions_(values_.size(), 0),
              index_(variant_ == tpcc_mix ? tpcc_index_slots : index_slots) {
            for (std::size_t i = 0; i < values_.size(); ++i) values_[i] = static_cast<std::int64_t>(i * 7);
        }

        worker(const worker&) = delete;
        worker& operator=(const worker&) = delete;

        void operation(std::uint64_t /*index*/) {
            if (variant_ == fast_hash) {
                transaction<fast_hasher>();
            } else {
                transaction<std_hasher>();
            }
        }

        std::uint64_t finish() {
            std::uint64_t sum = 0;
            for (std::size_t i = 0; i < values_.size(); ++i) {
                sum = sum * 31 + static_cast<std::uint64_t>(values_[i]) + versions_[i];
            }
            return digest_fold(digest_, sum);
        }

        std::size_t live_bytes_peak() const {
            return values_.size() * (sizeof(std::int64_t) + sizeof(std::uint64_t)) + index_.size() * sizeof(index_slot);
        }

    private:
        // The write-set index: slot -> 1 + position in the write set, stamped by transaction so
        // that clearing it is free.
        struct index_slot {
            std::uint32_t stamp = 0;
            std::uint32_t position = 0;
        };

        template <class Hasher>
        void transaction() {
            ++stamp_;
            read_set reads;
            write_set writes;
            std::size_t reads_left = 0, writes_left = 0, ops = 0;
            if (variant_ == tpcc_mix) {
                tpcc_shape(reads_left, writes_left);
                ops = reads_left + writes_left;
            } else {
                const std::uint64_t shape = random_.next();
                ops = (shape & 7) == 0 ? 12 + (shape >> 8) % 20 : 2 + (shape >> 8) % 10;
            }
            for (std::size_t i = 0; i < ops; ++i) {
                const std::uint64_t draw = random_.next();
                const std::uint64_t key_id = draw % values_.size();
                const key k = make_key(key_id);
                index_slot& slot = lookup<Hasher>(k, writes);
                const bool write = variant_ == tpcc_mix ? take_write(reads_left, writes_left) : (draw >> 63) != 0;
                if (write) {
                    const auto value = static_cast<std::int64_t>(draw >> 40);
                    if (slot.stamp == stamp_) {
                        writes[slot.position - 1].value = value;
                    } else {
                        writes.push_back(write_op{k, key_id, value});
                        slot = {stamp_, static_cast<std::uint32_t>(writes.size())};
                    }
                } else if (slot.stamp == stamp_) {
                    reads.push_back(read_op{key_id, ~std::uint64_t{0}, writes[slot.position - 1].value});
                } else {
                    reads.push_back(read_op{key_id, versions_[key_id], values_[key_id]});
                }
            }
            commit(reads, writes);
        }

        // A transaction of the TPC-C mix: how many reads and writes it makes.
        void tpcc_shape(std::size_t& reads, std::size_t& writes) {
            unsigned pick = static_cast<unsigned>(random_.below(100));
            std::size_t t = 0;
            while (pick >= tpcc_types[t].share) pick -= tpcc_types[t++].share;
            const tpcc_type& type = tpcc_types[t];
            const std::size_t lines = type.lines_min + random_.below(type.lines_max - type.lines_min + 1);
            reads = type.reads + type.reads_per_line * lines;
            writes = type.writes + type.writes_per_line * lines;
        }

        // Interleaves a transaction's reads and writes at random, each order equally likely.
        bool take_write(std::size_t& reads_left, std::size_t& writes_left) {
            const bool write = random_.below(reads_left + writes_left) < writes_left;
            --(write ? writes_left : reads_left);
            return write;
        }

        template <class Hasher>
        index_slot& lookup(const key& k, const write_set& writes) {
            const std::size_t mask = index_.size() - 1;
            std::size_t i = static_cast<std::size_t>(Hasher{}(k)) & mask;
            while (index_[i].stamp == stamp_ &&
                   std::memcmp(writes[index_[i].position - 1].k.data(), k.data(), key_bytes) != 0) {
                i = (i + 1) & mask;
            }
            return index_[i];
        }

        void commit(const read_set& reads, const write_set& writes) {
            std::uint64_t sum = reads.size() * 1000 + writes.size();
            for (const read_op& r : reads) {
                // Validation: a version read from the store must still be current. (A key that is
                // out of range can only come from a vector that lost what was pushed into it.)
                const bool own_write = r.version == ~std::uint64_t{0};
                if (r.key_id >= versions_.size() || (!own_write && versions_[r.key_id] != r.version)) {
                    ++conflicts_;
                    continue;
                }
                sum = sum * 31 + r.key_id + r.version + static_cast<std::uint64_t>(r.value);
            }
            for (const write_op& w : writes) {
                if (w.key_id >= values_.size()) {
                    ++conflicts_;
                    continue;
                }
                values_[w.key_id] = w.value;
                ++versions_[w.key_id];
                sum = sum * 31 + support::bytes_checksum(w.k.data(), key_bytes) + static_cast<std::uint64_t>(w.value);
            }
            digest_ = digest_fold(digest_, sum + conflicts_);
        }

        static key make_key(std::uint64_t key_id) {
            key k;
            support::store_u64(k.data(), 0x3a746e756f636361ULL);  // "account:"
            support::store_u64_big_endian(k.data() + 8, key_id);
            support::store_u64(k.data() + 16, key_id * 0xD6E8FEB86659FD93ULL);
            return k;
        }

        variant variant_;
        split_mix random_;
        std::vector<std::int64_t> values_;
        std::vector<std::uint64_t> versions_;
        std::vector<index_slot> index_;  // a power of two of slots
        std::uint32_t stamp_ = 0;
        std::uint64_t conflicts_ = 0;
        std::uint64_t digest_ = 0;
    };
};

}  // namespace allocproof::workloads

ALLOCPROOF_REGISTER_WORKLOAD(allocproof::workloads::txn_sets)
