// table_pool — columnar tables opened for queries and closed again: each query acquires a table
// object, loads columns from a stored source table into it, filters one column and sums another,
// writes a derived column, and keeps the table open among the last 16 until it is closed.
//
// Models: Mojo-Grizzly's "Batch 2: Memory Management Optimizations" (seed 000): a TablePool whose
// acquire() hands back a released Table or makes a new one (claim G0-1); RefCounted columns, so a
// table shares the stored column instead of copying it (G0-2); contiguous column arrays for scans
// (G0-3); lazy loading of columns (G0-4).
//   * Tables come from the strategy's object pool (`std`: new/delete each time). A pooled table
//     keeps the capacity of its column lists and derived column, so reuse also saves those.
//   * Columns are the strategy's buffers: loading a column is `slice` of the stored one, a
//     reference with shared_bytes / intrusive_refcount / make_shared, a deep copy with `std`.
//   A strategy that provides only one of the two families gets the other the `std` way
//   (workloads/support/family_fallback.hpp), so its cell differs from `std` in its own family only.
// Does not model: schemas, strings or nulls, files (the stored tables are buffers built at setup),
// SIMD (the scans are plain loops the compiler may vectorise), or query planning.
//
// Variants — the seed's techniques:
//   eager     every column of the table loaded at acquire, each one contiguous buffer;
//   chunked   as eager, with each column stored and loaded as 8 separately allocated 64-row
//             chunks (G0-3: the scan crosses chunk boundaries, the load makes 8 slices);
//   lazy      contiguous, and only the two columns the query touches are loaded (G0-4: compare
//             live bytes and RSS with `eager`; with a copying strategy the saving is 4 of 6 copies).
//   scan, scan_chunked
//             the scan alone (G0-3): the query's filter and sum run straight over the stored
//             tables, built at setup, with no table acquired, loaded, derived or released, so no
//             allocation in the measured phase; contiguous columns against the same values in
//             8 separately allocated 64-row chunks. A query of `eager` or `chunked` spends most of
//             its time loading (with `std`, 74 allocator calls per query against 14), which would
//             hide any difference the layout makes to the scan.
// Figures: ns/op (one query), allocator calls per op (the harness's counter), live bytes (the
// stored tables plus the bytes open tables hold beyond them: copies and derived columns).
//
// The digest folds each query's result (read from the loaded columns) and, when a table is
// closed, a checksum of its derived column: a table or column handed out again while still open
// changes it.
#pragma once

#include "allocproof/registry.hpp"
#include "allocproof/strategy.hpp"
#include "allocproof/workload.hpp"
#include "workloads/support/bytes.hpp"
#include "workloads/support/family_fallback.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace allocproof::workloads {

struct table_pool {
    static constexpr std::array<std::string_view, 5> variant_names{"eager", "chunked", "lazy", "scan", "scan_chunked"};
    enum variant : unsigned { eager = 0, chunked = 1, lazy = 2, scan = 3, scan_chunked = 4 };

    static constexpr workload_traits traits{
        .name = "table_pool",
        .summary = "columnar tables from a pool, columns shared or copied, scans, lazy vs eager loading",
        .quick_scale = {.ops_per_thread = 1'400, .working_set = 64, .warmup_ops = 140},
        .default_scale = {.ops_per_thread = 3'500, .working_set = 64, .warmup_ops = 350},
        .test_scale = {.ops_per_thread = 200, .working_set = 8, .warmup_ops = 20},
        .families = "object_pool, buffers",
        .claims = "G0-1 G0-2 G0-3 G0-4",
        .variants = variant_names,
    };

    static constexpr std::size_t columns = 6;
    static constexpr std::size_t rows = 512;
    static constexpr std::size_t chunk_rows = 64;  // the chunked variant's chunk
    static constexpr std::size_t open_tables = 16;

    template <class S>
    static constexpr bool accepts = S::traits.provides_object_pool || S::traits.provides_buffers;

    template <class S>
    class worker {
        using buffer = support::buffer_or_copy<S>;
        using column = std::vector<buffer>;  // one buffer, or one per chunk

        struct table {
            std::array<column, columns> columns_loaded;
            std::vector<std::int64_t> derived;
            std::uint32_t source = 0;
            std::size_t owned_bytes = 0;  // bytes held beyond the stored table's

            // What the pool calls on release: empty, but the lists keep their capacity.
            void reset() {
                for (column& c : columns_loaded) c.clear();
                derived.clear();
                source = 0;
                owned_bytes = 0;
            }
        };
        using pool = support::object_pool_or_fresh<S, table>;

    public:
        worker(const workload_params& params, unsigned thread_index)
            : variant_(static_cast<variant>(params.variant)),
              random_(thread_seed(params.seed, thread_index)),
              pool_(open_tables + 1) {
            const std::size_t per_chunk = variant_ == chunked || variant_ == scan_chunked ? chunk_rows : rows;
            stored_.resize(std::max<std::uint64_t>(params.scale.working_set, 1));
            std::array<std::int64_t, rows> values;
            for (auto& stored : stored_) {
                for (column& c : stored) {
                    const std::uint64_t base = random_.next();
                    for (std::size_t r = 0; r < rows; ++r) {
                        values[r] = static_cast<std::int64_t>((base + r * 0x9E3779B97F4A7C15ULL) >> 40);
                    }
                    for (std::size_t r = 0; r < rows; r += per_chunk) {
                        c.push_back(buffer::copy_of(values.data() + r, per_chunk * sizeof(std::int64_t)));
                    }
                }
            }
            stored_bytes_ = stored_.size() * columns * rows * sizeof(std::int64_t);
            live_bytes_peak_ = live_bytes();
        }

        worker(const worker&) = delete;
        worker& operator=(const worker&) = delete;

        ~worker() {
            for (table*& t : open_) {
                if (t != nullptr) pool_.release(t);
            }
        }

        void operation(std::uint64_t index) {
            if (variant_ == scan || variant_ == scan_chunked) {
                scan_stored();
                return;
            }
            table* t = pool_.acquire();
            t->source = static_cast<std::uint32_t>(random_.below(stored_.size()));
            if (variant_ != lazy) {
                for (std::size_t c = 0; c < columns; ++c) load(*t, c);
            }
            const std::size_t filter = random_.below(columns);
            const std::size_t summed = (filter + 1 + random_.below(columns - 1)) % columns;
            const std::int64_t threshold = static_cast<std::int64_t>(random_.below(1u << 24));
            digest_ = digest_fold(digest_, static_cast<std::uint64_t>(query(*t, filter, summed, threshold)));

            table*& slot = open_[index % open_tables];
            if (slot != nullptr) close(slot);
            slot = t;
            open_bytes_ += t->owned_bytes;
            live_bytes_peak_ = std::max(live_bytes_peak_, live_bytes());
        }

        std::uint64_t finish() {
            for (std::size_t i = 0; i < open_tables; ++i) {
                if (open_[i] != nullptr) close(open_[i]);
                open_[i] = nullptr;
            }
            return digest_;
        }

        std::size_t live_bytes() const { return stored_bytes_ + open_bytes_; }
        std::size_t live_bytes_peak() const { return live_bytes_peak_; }

    private:
        void load(table& t, std::size_t c) {
            column& into = t.columns_loaded[c];
            if (!into.empty()) return;
            for (const buffer& chunk : stored_[t.source][c]) {
                into.push_back(chunk.slice(0, chunk.size()));
                if (into.back().data() != chunk.data()) t.owned_bytes += chunk.size();
            }
        }

        // SELECT sum(summed) WHERE filter > threshold, and derived = summed * 3 + filter.
        std::int64_t query(table& t, std::size_t filter, std::size_t summed, std::int64_t threshold) {
            load(t, filter);
            load(t, summed);
            t.derived.resize(rows);
            std::int64_t* out = t.derived.data();
            std::int64_t sum = 0;
            for_each_chunk(t.columns_loaded[filter], t.columns_loaded[summed],
                           [&](const std::int64_t* fv, const std::int64_t* sv, std::size_t n) {
                               for (std::size_t r = 0; r < n; ++r) {
                                   sum += fv[r] > threshold ? sv[r] : 0;
                                   out[r] = sv[r] * 3 + fv[r];
                               }
                               out += n;
                           });
            t.owned_bytes += rows * sizeof(std::int64_t);
            return sum;
        }

        // The scan variants' query: SELECT sum(summed) WHERE filter > threshold over a stored table.
        void scan_stored() {
            const auto& stored = stored_[random_.below(stored_.size())];
            const std::size_t filter = random_.below(columns);
            const std::size_t summed = (filter + 1 + random_.below(columns - 1)) % columns;
            const std::int64_t threshold = static_cast<std::int64_t>(random_.below(1u << 24));
            std::int64_t sum = 0;
            for_each_chunk(stored[filter], stored[summed],
                           [&](const std::int64_t* fv, const std::int64_t* sv, std::size_t n) {
                               for (std::size_t r = 0; r < n; ++r) sum += fv[r] > threshold ? sv[r] : 0;
                           });
            digest_ = digest_fold(digest_, static_cast<std::uint64_t>(sum));
        }

        // Two columns of one table are chunked alike: body(filter values, summed values, rows)
        // once per chunk, in row order.
        template <class Body>
        static void for_each_chunk(const column& f, const column& s, Body&& body) {
            for (std::size_t k = 0; k < f.size(); ++k) {
                body(reinterpret_cast<const std::int64_t*>(f[k].data()),
                     reinterpret_cast<const std::int64_t*>(s[k].data()), f[k].size() / sizeof(std::int64_t));
            }
        }

        void close(table*& t) {
            digest_ =
                digest_fold(digest_, support::bytes_checksum(reinterpret_cast<const std::byte*>(t->derived.data()),
                                                             t->derived.size() * sizeof(std::int64_t)) ^
                                         t->source);
            open_bytes_ -= t->owned_bytes;
            pool_.release(t);
            t = nullptr;
        }

        variant variant_;
        split_mix random_;
        std::vector<std::array<column, columns>> stored_;
        pool pool_;
        std::array<table*, open_tables> open_{};
        std::size_t stored_bytes_ = 0;
        std::size_t open_bytes_ = 0;
        std::uint64_t digest_ = 0;
        std::size_t live_bytes_peak_ = 0;
    };
};

}  // namespace allocproof::workloads

ALLOCPROOF_REGISTER_WORKLOAD(allocproof::workloads::table_pool)
