// memtable_wal — the write path of an LSM store: puts serialised into write batches, each batch
// sealed as one 4 KiB write-ahead-log block, its records applied to the memtable, the memtable
// flushed to a sorted run of 4 KiB blocks, and level-0 runs merged into level 1 by compaction.
//
// Models: RocksDB / LevelDB's write path as Lightning DB (seed 003) describes its own: WriteBatch
// -> WAL -> memtable (MemTableInserter, the same code that replays the log at recovery) -> flush
// -> compaction. The keys and values in the memtable are views of the WAL block they arrived in:
// `S::buffer::slice`. With a refcounted buffer (shared_bytes, intrusive_refcount, make_shared)
// that is a reference to the block; with `std` it is a deep copy of the bytes, which is what
// code without shared slices does (claim L3-5). Every fourth flush is preceded by a recovery: the
// memtable is dropped and rebuilt by reading the log back block by block (a read buffer per
// block, copy_of into a new block, the records re-applied), as after a restart (claim L3-2).
// L3-2's arenas are not among the strategies here (the buffers family only): what this workload
// gives L3-2 is the allocator calls of the batch operations (batch commit, recovery, flush,
// compaction) with shared slices against copies; an arena for the recovery batches is not modelled.
// Does not model: files or fsync (a block is "written" by copy_of), a skiplist (the memtable is
// an append-only vector sorted at flush: the allocation pattern of its entries is the same),
// reads, bloom filters, or more than two levels.
//
// Variants — the technique of claims L3-8 and L3-3, for the staging buffers every batch, recovery
// read and table block is serialised into (and the memtable's entry vector):
//   reserve  one staging buffer per purpose, reserved at 4 KiB once and cleared after use: a
//            pooled, pre-allocated serialisation buffer;
//   growth   a fresh buffer for every batch or block, grown by appends (capacity doubling), and
//            freed once sealed; the memtable's entry vector likewise starts empty at each flush.
// The harness's allocation counter (allocator calls per op) is the figure L3-2, L3-3 and L3-8 ask
// for; one operation is one put (batch commits, flushes, recoveries and compactions are amortised
// over the puts that cause them). L3-5 (memory bandwidth) is read on the bytes the worker copies,
// which it counts itself (bytes_copied()): records appended to a batch or a table block, what a
// staging buffer moves when it grows, each block copied out of staging (the log block, a recovery
// read, a table block), and each key and value a slice copies (`std`) instead of referencing.
// Reads (checksums, the sort's comparisons) are traffic too, but the same on both sides.
//
// The digest folds checksums of the keys and values read back from the memtable's buffers at each
// flush, of each record the compaction merges, and of the final level-1 contents, so a buffer
// whose bytes were overwritten while still referenced changes it.
#pragma once

#include "allocproof/registry.hpp"
#include "allocproof/strategy.hpp"
#include "allocproof/workload.hpp"
#include "workloads/support/bytes.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

namespace allocproof::workloads {

struct memtable_wal {
    static constexpr std::array<std::string_view, 2> variant_names{"reserve", "growth"};
    enum variant : unsigned { reserve = 0, growth = 1 };

    static constexpr workload_traits traits{
        .name = "memtable_wal",
        .summary = "LSM puts: 4 KiB WAL batches, memtable of key/value slices, flush, recovery, compaction",
        .quick_scale = {.ops_per_thread = 10'000, .working_set = 4'096, .warmup_ops = 1'000},
        .default_scale = {.ops_per_thread = 25'000, .working_set = 4'096, .warmup_ops = 2'500},
        .test_scale = {.ops_per_thread = 3'000, .working_set = 512, .warmup_ops = 300},
        .families = "buffers",
        .claims = "L3-5 L3-8 L3-9",
        .variants = variant_names,
    };

    static constexpr std::size_t block_bytes = 4096;  // WAL blocks and table blocks
    static constexpr std::size_t key_bytes = 16;
    static constexpr std::size_t record_header_bytes = 8;  // key length, value length (u32 each)
    static constexpr std::size_t max_value_bytes = 240;
    static constexpr std::size_t memtable_limit = 64 * 1024;  // key + value bytes before a flush
    static constexpr std::size_t level0_trigger = 4;
    static constexpr unsigned recovery_every = 4;  // flushes

    template <class S>
    static constexpr bool accepts = S::traits.provides_buffers;

    // Bytes being serialised before they become an immutable block. `reserve` keeps one 4 KiB
    // allocation for ever; `growth` starts from nothing each time and frees when sealed.
    class staging_buffer {
    public:
        explicit staging_buffer(variant mode) : mode_(mode) {
            if (mode_ == reserve) bytes_.reserve(block_bytes);
        }
        void append(const std::byte* data, std::size_t size) {
            // Growing moves what the buffer holds: bytes copied as surely as the appended ones.
            if (bytes_.size() + size > bytes_.capacity()) bytes_copied_ += bytes_.size();
            bytes_.insert(bytes_.end(), data, data + size);
            bytes_copied_ += size;
        }
        std::uint64_t bytes_copied() const { return bytes_copied_; }
        const std::byte* data() const { return bytes_.data(); }
        std::size_t size() const { return bytes_.size(); }
        bool empty() const { return bytes_.empty(); }
        void done() {
            if (mode_ == reserve) {
                bytes_.clear();
            } else {
                std::vector<std::byte>().swap(bytes_);
            }
        }

    private:
        variant mode_;
        std::vector<std::byte> bytes_;
        std::uint64_t bytes_copied_ = 0;
    };

    template <class S>
    class worker {
        using buffer = typename S::buffer;

        struct entry {
            buffer key;
            buffer value;
        };
        // A sorted run: 4 KiB blocks of records, and where each record starts and how long its
        // value is, in key order (the run's index, kept apart from its blocks, as a table's is).
        struct run {
            struct position {
                std::uint32_t block;
                std::uint16_t offset;
                std::uint16_t value_size;
            };
            std::vector<buffer> blocks;
            std::vector<position> records;
            std::size_t bytes = 0;
        };

    public:
        worker(const workload_params& params, unsigned thread_index)
            : mode_(params.variant == growth ? growth : reserve),
              random_(thread_seed(params.seed, thread_index)),
              key_space_(std::max<std::uint64_t>(params.scale.working_set, 1)),
              batch_(mode_),
              staging_(mode_) {
            if (mode_ == reserve) {
                memtable_.reserve(memtable_limit / key_bytes + 1);
            }
        }

        worker(const worker&) = delete;
        worker& operator=(const worker&) = delete;

        void operation(std::uint64_t /*index*/) {
            const std::uint64_t key_id = random_.below(key_space_);
            const std::size_t value_size = 8 * (2 + random_.below(29));  // 16 .. 240 bytes
            const std::size_t record_size = record_header_bytes + key_bytes + value_size;
            if (batch_.size() + record_size > block_bytes) commit_batch();

            std::array<std::byte, record_header_bytes + key_bytes + max_value_bytes> record;
            support::store_u32(record.data(), key_bytes);
            support::store_u32(record.data() + 4, static_cast<std::uint32_t>(value_size));
            std::byte* key = record.data() + record_header_bytes;
            support::store_u64_big_endian(key, key_id);
            support::store_u64(key + 8, key_id * 0x9E3779B97F4A7C15ULL);
            const std::uint64_t stamp = random_.next();
            for (std::size_t w = 0; w < value_size; w += 8) {
                support::store_u64(key + key_bytes + w, stamp + w * 0xBF58476D1CE4E5B9ULL);
            }
            batch_.append(record.data(), record_size);
        }

        std::uint64_t finish() {
            if (!batch_.empty()) commit_batch();
            if (!memtable_.empty()) flush();
            if (!level0_.empty()) compact();
            for (const auto& position : level1_.records) {
                const std::byte* record = level1_.blocks[position.block].data() + position.offset;
                digest_ = digest_fold(digest_, support::bytes_checksum(record, record_size(position)));
            }
            digest_ = digest_fold(digest_, level1_.records.size() ^ (torn_records_ << 32));
            return digest_;
        }

        std::size_t live_bytes() const { return live_bytes_; }
        std::size_t live_bytes_peak() const { return live_bytes_peak_; }
        std::uint64_t bytes_copied() const { return bytes_copied_ + batch_.bytes_copied() + staging_.bytes_copied(); }

    private:
        static std::size_t record_size(typename run::position p) {
            return record_header_bytes + key_bytes + p.value_size;
        }
        static const std::byte* key_of(const run& r, typename run::position p) {
            return r.blocks[p.block].data() + p.offset + record_header_bytes;
        }

        // ---- write path --------------------------------------------------------------------
        void commit_batch() {
            buffer block = seal(batch_);
            add_live(static_cast<std::ptrdiff_t>(block.size()));
            wal_bytes_ += block.size();
            apply(block);
            wal_.push_back(std::move(block));
            if (memtable_bytes_ >= memtable_limit) flush();
        }

        // MemTableInserter: the records of one log block become memtable entries that view it.
        // A record that does not parse ends the block, as a log reader stops at a torn write.
        void apply(const buffer& block) {
            for (std::size_t offset = 0; offset + record_header_bytes <= block.size();) {
                const std::byte* record = block.data() + offset;
                const std::size_t key_size = support::load_u32(record);
                const std::size_t value_size = support::load_u32(record + 4);
                const std::size_t key_at = offset + record_header_bytes;
                if (key_size != key_bytes || value_size > max_value_bytes ||
                    key_at + key_size + value_size > block.size()) {
                    ++torn_records_;
                    break;
                }
                entry e{block.slice(key_at, key_size), block.slice(key_at + key_size, value_size)};
                // A slice outside its block is a copy: the bytes it costs beyond the log's.
                if (e.key.data() != block.data() + key_at) {
                    held_in_copies_ += key_size + value_size;
                    bytes_copied_ += key_size + value_size;
                    add_live(static_cast<std::ptrdiff_t>(key_size + value_size));
                }
                memtable_.push_back(std::move(e));
                memtable_bytes_ += key_size + value_size;
                offset = key_at + key_size + value_size;
            }
        }

        // After a restart the memtable is gone and the log is read back one block at a time.
        void recover() {
            drop_memtable();
            std::vector<buffer> recovered;
            recovered.reserve(wal_.size());
            for (const buffer& logged : wal_) {
                staging_.append(logged.data(), logged.size());  // the read from the log file
                recovered.push_back(seal(staging_));
                apply(recovered.back());
            }
            wal_ = std::move(recovered);  // the old blocks die with their last reference
        }

        void drop_memtable() {
            if (mode_ == reserve) {
                memtable_.clear();
            } else {
                std::vector<entry>().swap(memtable_);
            }
            add_live(-static_cast<std::ptrdiff_t>(held_in_copies_));
            held_in_copies_ = 0;
            memtable_bytes_ = 0;
        }

        // ---- flush: the memtable becomes a sorted level-0 run ------------------------------
        void flush() {
            if (++flushes_ % recovery_every == 0) recover();
            order_.resize(memtable_.size());
            for (std::uint32_t i = 0; i < order_.size(); ++i) order_[i] = i;
            // Stable: among equal keys the last put stays last, and wins.
            std::stable_sort(order_.begin(), order_.end(), [this](std::uint32_t a, std::uint32_t b) {
                return std::memcmp(memtable_[a].key.data(), memtable_[b].key.data(), key_bytes) < 0;
            });
            run out;
            for (std::size_t i = 0; i < order_.size(); ++i) {
                const entry& e = memtable_[order_[i]];
                if (i + 1 < order_.size() &&
                    std::memcmp(e.key.data(), memtable_[order_[i + 1]].key.data(), key_bytes) == 0) {
                    continue;  // shadowed by a newer put of the same key
                }
                digest_ = digest_fold(digest_, support::bytes_checksum(e.key.data(), e.key.size()) ^
                                                   support::bytes_checksum(e.value.data(), e.value.size()));
                std::array<std::byte, record_header_bytes> header;
                support::store_u32(header.data(), static_cast<std::uint32_t>(e.key.size()));
                support::store_u32(header.data() + 4, static_cast<std::uint32_t>(e.value.size()));
                emit(out, header.data(), e.key.data(), e.key.size(), e.value.data(), e.value.size());
            }
            seal_block(out);
            drop_memtable();
            add_live(-static_cast<std::ptrdiff_t>(wal_bytes_));
            wal_bytes_ = 0;
            wal_.clear();  // the log is truncated once its contents are in a table
            add_live(static_cast<std::ptrdiff_t>(out.bytes));
            level0_.push_back(std::move(out));
            if (level0_.size() >= level0_trigger) compact();
        }

        // Appends one record to the run being written, sealing a 4 KiB block when it is full.
        void emit(run& out, const std::byte* header, const std::byte* key, std::size_t key_size, const std::byte* value,
                  std::size_t value_size) {
            const std::size_t size = record_header_bytes + key_size + value_size;
            if (staging_.size() + size > block_bytes) seal_block(out);
            out.records.push_back({static_cast<std::uint32_t>(out.blocks.size()),
                                   static_cast<std::uint16_t>(staging_.size()),
                                   static_cast<std::uint16_t>(value_size)});
            staging_.append(header, record_header_bytes);
            staging_.append(key, key_size);
            staging_.append(value, value_size);
        }

        void seal_block(run& out) {
            if (staging_.empty()) return;
            out.bytes += staging_.size();
            out.blocks.push_back(seal(staging_));
        }

        // Every block is copied once out of the staging buffer it was serialised in.
        buffer seal(staging_buffer& from) {
            buffer block = buffer::copy_of(from.data(), from.size());
            bytes_copied_ += block.size();
            from.done();
            return block;
        }

        // ---- compaction: every level-0 run and level 1 merged into a new level 1 -----------
        void compact() {
            // Sources oldest first, so that among equal keys the highest index is the newest.
            std::vector<const run*> sources;
            sources.push_back(&level1_);
            for (const run& r : level0_) sources.push_back(&r);
            std::vector<std::size_t> cursor(sources.size(), 0);
            run out;
            for (;;) {
                std::size_t newest = sources.size();
                for (std::size_t s = 0; s < sources.size(); ++s) {
                    if (cursor[s] == sources[s]->records.size()) continue;
                    if (newest == sources.size()) {
                        newest = s;
                        continue;
                    }
                    const int order =
                        std::memcmp(key_of(*sources[s], sources[s]->records[cursor[s]]),
                                    key_of(*sources[newest], sources[newest]->records[cursor[newest]]), key_bytes);
                    if (order <= 0) newest = s;  // smaller key, or the same key from a newer run
                }
                if (newest == sources.size()) break;
                const run& from = *sources[newest];
                const auto position = from.records[cursor[newest]];
                const std::byte* record = from.blocks[position.block].data() + position.offset;
                const std::byte* key = record + record_header_bytes;
                digest_ = digest_fold(digest_, support::bytes_checksum(record, record_size(position)));
                emit(out, record, key, key_bytes, key + key_bytes, position.value_size);
                // Skip the older versions of this key in every other source.
                for (std::size_t s = 0; s < sources.size(); ++s) {
                    while (cursor[s] < sources[s]->records.size() &&
                           std::memcmp(key_of(*sources[s], sources[s]->records[cursor[s]]), key, key_bytes) == 0) {
                        ++cursor[s];
                    }
                }
            }
            seal_block(out);
            std::ptrdiff_t freed = static_cast<std::ptrdiff_t>(level1_.bytes);
            for (const run& r : level0_) freed += static_cast<std::ptrdiff_t>(r.bytes);
            add_live(static_cast<std::ptrdiff_t>(out.bytes) - freed);
            level1_ = std::move(out);
            level0_.clear();
        }

        void add_live(std::ptrdiff_t bytes) {
            live_bytes_ = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(live_bytes_) + bytes);
            live_bytes_peak_ = std::max(live_bytes_peak_, live_bytes_);
        }

        variant mode_;
        split_mix random_;
        std::uint64_t key_space_;
        staging_buffer batch_;     // the write batch being filled
        staging_buffer staging_;   // recovery reads and table blocks being written
        std::vector<buffer> wal_;  // log blocks not yet flushed
        std::vector<entry> memtable_;
        std::vector<std::uint32_t> order_;
        std::vector<run> level0_;
        run level1_;
        std::size_t memtable_bytes_ = 0;
        std::size_t wal_bytes_ = 0;
        std::size_t held_in_copies_ = 0;  // key and value bytes the memtable holds in copies now
        std::uint64_t bytes_copied_ = 0;  // beside the staging buffers' own count: see bytes_copied()
        unsigned flushes_ = 0;
        std::uint64_t torn_records_ = 0;  // only a strategy that overwrote a live block makes any
        std::uint64_t digest_ = 0;
        std::size_t live_bytes_ = 0;
        std::size_t live_bytes_peak_ = 0;
    };
};

}  // namespace allocproof::workloads

ALLOCPROOF_REGISTER_WORKLOAD(allocproof::workloads::memtable_wal)
