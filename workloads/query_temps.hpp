// query_temps — a small query executor's per-query temporaries: row buffers, a hash table for a
// group-by or a hash join, and short strings, all freed when the query ends.
//
// Models: the working memory of an analytical query as an in-memory engine keeps it (seed 001's
// PL-GRIZZLY MemoryManager gives queries a "query pool" of 8 KiB blocks and temporaries a "temp
// pool" of 1 KiB blocks; seed 003's per-operation arenas): a scan materialises the rows that pass
// its filter into 8 KiB pages, a hash table (a 4 KiB bucket directory and one 40 B entry per
// group or build row) aggregates them or joins two scans, group labels and join outputs are
// copied strings. When the query ends everything goes: node by node for strategies that free
// individually (as destructors do), by one reset for arenas (claim A2-9). The budgeted pools
// (budget_pools) are served too: the block_spec of each size class picks the pool (8 KiB pages
// from query, the 4 KiB directory from cache, entries and strings from temp, a 1 KiB block each),
// and a refusal sends that object to ::operator new, counted (tagged_blocks::refusals()), with the
// same logical work (claims P1-1: memory held against bytes requested; P1-3: limits hold).
// A query needs a few dozen KiB, far below the seed's 25-100 MiB limits: at these scales nothing
// is refused, and the P1-1 figure is the 1 KiB block per 40-100 B object, not the limits.
// Does not model: spilling to disk, parallel operators, sorting, variable directory sizes, or
// reading the table itself (it is built once, in ordinary memory, and only scanned).
//
// One operation is one query: 60% group-by (sum, count and smallest name per key over a range of
// 32-256 rows), 40% hash join (build 16-128 rows, probe 32-256 rows, one concatenated name per
// match). Digest: each query's result read back from the temporaries (the groups in bucket order,
// the join outputs in probe order), and at the query's end every row slot of every page (unused
// ones zeroed when the page is taken) and every entry's numbers, however the strategy frees them;
// links and the rows' name pointers are addresses, followed rather than folded.
#pragma once

#include "allocproof/registry.hpp"
#include "allocproof/strategy.hpp"
#include "allocproof/workload.hpp"
#include "workloads/support/hash_bytes.hpp"
#include "workloads/support/tagged_blocks.hpp"
#include "workloads/support/text_block.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace allocproof::workloads {

struct query_temps {
    static constexpr workload_traits traits{
        .name = "query_temps",
        .summary = "per-query row pages, hash table and strings of a group-by or hash join, freed at query end",
        .quick_scale = {.ops_per_thread = 1'000, .working_set = 4'096, .warmup_ops = 100},
        .default_scale = {.ops_per_thread = 2'700, .working_set = 4'096, .warmup_ops = 270},
        .test_scale = {.ops_per_thread = 50, .working_set = 1'024, .warmup_ops = 5},
        .families = "blocks",
        .claims = "A2-9 P1-1 P1-3",
    };

    // Raw block sizes including tagged_blocks' prefix: exactly budget_pools' query and cache blocks.
    static constexpr std::size_t page_bytes = 8192 - support::block_prefix;
    static constexpr std::size_t directory_bytes = 4096 - support::block_prefix;

    template <class S>
    static constexpr bool accepts = support::serves_tagged_blocks<S> && (S::traits.frees_individually || resettable<S>);

    template <class S>
    class worker {
    public:
        worker(const workload_params& params, unsigned thread_index)
            : random_(thread_seed(params.seed, thread_index)), blocks_(page_bytes) {
            const std::size_t rows = std::max<std::uint64_t>(params.scale.working_set, 512);
            table_.reserve(rows);
            for (std::size_t i = 0; i < rows; ++i) {
                const std::uint64_t r = random_.next();
                // Group keys are skewed: a few hundred groups, the small ones most frequent.
                const std::uint64_t group = (r % 64) * ((r >> 6) % 4 == 0 ? 1 + (r >> 8) % 8 : 1);
                std::string name(5 + (r >> 12) % 26, ' ');
                std::uint64_t bits = random_.next();
                for (char& c : name) {
                    c = static_cast<char>('a' + (bits >> 58) % 26);
                    bits = bits * 0x5851F42D4C957F2DULL + 1;
                }
                table_.push_back(table_row{group, static_cast<std::int64_t>(r >> 40) - (1 << 23), std::move(name)});
            }
            table_bytes_ = table_.capacity() * sizeof(table_row);
            for (const table_row& stored : table_) {
                // A name longer than the string's inline buffer has its own block of capacity + 1.
                if (stored.name.capacity() > std::string().capacity()) table_bytes_ += stored.name.capacity() + 1;
            }
        }

        worker(const worker&) = delete;
        worker& operator=(const worker&) = delete;

        void operation(std::uint64_t /*index*/) {
            const std::uint64_t r = random_.next();
            if (r % 10 < 6) {
                group_by(random_.below(table_.size()), 32 + random_.below(225));
            } else {
                hash_join(random_.below(table_.size()), 16 + random_.below(113), random_.below(table_.size()),
                          32 + random_.below(225));
            }
        }

        std::uint64_t finish() { return digest_fold(digest_, blocks_.overlaps()); }

        // The table counts as live: it is requested memory the process holds, the same on every
        // side, so memory held minus live bytes is the allocator's overhead alone (claim P1-1).
        std::size_t live_bytes_peak() const { return table_bytes_ + blocks_.live_bytes_peak(); }
        std::size_t live_bytes() const { return table_bytes_ + blocks_.live_bytes(); }
        std::size_t table_bytes() const { return table_bytes_; }
        std::uint64_t refusals() const { return blocks_.refusals(); }

    private:
        using text = support::text_block;

        struct table_row {
            std::uint64_t key;
            std::int64_t value;
            std::string name;
        };

        // A materialised row: the scan's output, what the operators above it read.
        struct row {
            std::uint64_t key;
            std::int64_t value;
            const char* name;  // into the table (the scan does not copy column data)
            std::uint64_t name_size;
        };
        struct page {
            page* next;
            std::size_t count;
            static constexpr std::size_t capacity = (page_bytes - 16) / sizeof(row);
            row* rows() { return reinterpret_cast<row*>(reinterpret_cast<std::byte*>(this) + 16); }
            const row* rows() const {
                return reinterpret_cast<const row*>(reinterpret_cast<const std::byte*>(this) + 16);
            }
        };
        static_assert(sizeof(page) <= 16);

        struct entry {
            entry* next;
            std::uint64_t key;
            std::int64_t sum;     // group-by: the sum; join: unused
            std::uint64_t count;  // group-by: the count; join: unused
            union {
                text* label;       // group-by: the smallest name, copied
                const row* built;  // join: the build row, in its page
            };
        };
        static constexpr std::size_t buckets = directory_bytes / sizeof(entry*);

        // Rows [start, start + n) of the table (wrapping) that pass the filter, into pages.
        page* scan(std::uint64_t start, std::uint64_t n) {
            page* first = nullptr;
            page* last = nullptr;
            for (std::uint64_t i = 0; i < n; ++i) {
                const table_row& t = table_[(start + i) % table_.size()];
                if ((t.value & 3) == 0) continue;  // WHERE value % 4 <> 0
                if (last == nullptr || last->count == page::capacity) {
                    auto* fresh = static_cast<page*>(blocks_.allocate(page_bytes));
                    fresh->next = nullptr;
                    fresh->count = 0;
                    std::fill_n(fresh->rows(), page::capacity, row{});
                    (last == nullptr ? first : last->next) = fresh;
                    last = fresh;
                }
                last->rows()[last->count++] = row{t.key, t.value, t.name.data(), t.name.size()};
            }
            return first;
        }

        entry** new_directory() {
            auto** directory = static_cast<entry**>(blocks_.allocate(directory_bytes));
            std::fill_n(directory, buckets, nullptr);
            return directory;
        }

        static std::size_t bucket_of(std::uint64_t key) {
            return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ULL) >> 32) % buckets;
        }

        entry* new_entry(entry** directory, std::uint64_t key) {
            auto* e = static_cast<entry*>(blocks_.allocate(sizeof(entry)));
            e->key = key;
            e->sum = 0;
            e->count = 0;
            e->label = nullptr;
            entry*& head = directory[bucket_of(key)];
            e->next = head;
            head = e;
            return e;
        }

        // SELECT key, SUM(value), COUNT(*), MIN(name) ... GROUP BY key
        void group_by(std::uint64_t start, std::uint64_t n) {
            page* rows = scan(start, n);
            entry** directory = new_directory();
            for (page* p = rows; p != nullptr; p = p->next) {
                for (std::size_t i = 0; i < p->count; ++i) {
                    const row& r = p->rows()[i];
                    const std::string_view name(r.name, r.name_size);
                    entry* e = directory[bucket_of(r.key)];
                    while (e != nullptr && e->key != r.key) e = e->next;
                    if (e == nullptr) e = new_entry(directory, r.key);
                    e->sum += r.value;
                    ++e->count;
                    if (e->label == nullptr || name < e->label->view()) {
                        if (e->label != nullptr) text::release(blocks_, e->label);
                        e->label = text::copy(blocks_, name);
                    }
                }
            }
            for (std::size_t b = 0; b < buckets; ++b) {
                for (const entry* e = directory[b]; e != nullptr; e = e->next) {
                    digest_ = digest_fold(digest_, e->key ^ static_cast<std::uint64_t>(e->sum) ^ (e->count << 48));
                    digest_ = digest_fold(digest_, support::hash_bytes(e->label->bytes(), e->label->size));
                }
            }
            end_query(rows, directory, [&](entry* e) { text::release(blocks_, e->label); });
        }

        // SELECT a.name || '|' || b.name FROM range a JOIN range b USING (key)
        void hash_join(std::uint64_t build_start, std::uint64_t build_n, std::uint64_t probe_start,
                       std::uint64_t probe_n) {
            page* build = scan(build_start, build_n);
            entry** directory = new_directory();
            for (page* p = build; p != nullptr; p = p->next) {
                for (std::size_t i = 0; i < p->count; ++i)
                    new_entry(directory, p->rows()[i].key)->built = &p->rows()[i];
            }
            page* probe = scan(probe_start, probe_n);
            outputs_.clear();  // the output column; its own capacity is reused across queries
            for (page* p = probe; p != nullptr; p = p->next) {
                for (std::size_t i = 0; i < p->count; ++i) {
                    const row& r = p->rows()[i];
                    for (const entry* e = directory[bucket_of(r.key)]; e != nullptr; e = e->next) {
                        if (e->key != r.key) continue;
                        text* out = text::make(blocks_, e->built->name_size + 1 + r.name_size);
                        std::memcpy(out->bytes(), e->built->name, e->built->name_size);
                        out->bytes()[e->built->name_size] = '|';
                        std::memcpy(out->bytes() + e->built->name_size + 1, r.name, r.name_size);
                        outputs_.push_back(out);
                    }
                }
            }
            digest_ = digest_fold(digest_, outputs_.size());
            for (text* out : outputs_) digest_ = digest_fold(digest_, support::hash_bytes(out->bytes(), out->size));
            fold_rows(probe);
            if constexpr (S::traits.frees_individually) {
                for (text* out : outputs_) text::release(blocks_, out);
                free_pages(probe);
            }
            end_query(build, directory, [](entry*) {});
        }

        // Every row slot of every page as the query leaves them: the pages' check at release,
        // whichever way they are released.
        void fold_rows(const page* p) {
            for (; p != nullptr; p = p->next) {
                std::uint64_t sum = p->count;
                for (std::size_t i = 0; i < page::capacity; ++i) {
                    const row& r = p->rows()[i];
                    sum = (sum ^ r.key ^ static_cast<std::uint64_t>(r.value) ^ (r.name_size << 56)) * 0x100000001B3ULL;
                }
                digest_ = digest_fold(digest_, sum);
            }
        }

        void free_pages(page* p) {
            while (p != nullptr) {
                page* next = p->next;
                blocks_.deallocate(p, page_bytes);
                p = next;
            }
        }

        // The query's end: its hash table and row pages go, by one reset when the strategy frees
        // only that way.
        template <class Release>
        void end_query(page* rows, entry** directory, Release&& release_entry_parts) {
            for (std::size_t b = 0; b < buckets; ++b) {
                for (const entry* e = directory[b]; e != nullptr; e = e->next) {
                    digest_ = digest_fold(digest_, e->key ^ static_cast<std::uint64_t>(e->sum) ^ (e->count << 40));
                }
            }
            fold_rows(rows);
            if constexpr (S::traits.frees_individually) {
                for (std::size_t b = 0; b < buckets; ++b) {
                    for (entry* e = directory[b]; e != nullptr;) {
                        entry* next = e->next;
                        release_entry_parts(e);
                        blocks_.deallocate(e, sizeof(entry));
                        e = next;
                    }
                }
                blocks_.deallocate(directory, directory_bytes);
                free_pages(rows);
            } else {
                blocks_.release_all();
            }
        }

        split_mix random_;
        std::vector<table_row> table_;
        std::size_t table_bytes_ = 0;
        support::tagged_blocks<S> blocks_;
        std::vector<text*> outputs_;
        std::uint64_t digest_ = 0;
    };
};

}  // namespace allocproof::workloads

ALLOCPROOF_REGISTER_WORKLOAD(allocproof::workloads::query_temps)
