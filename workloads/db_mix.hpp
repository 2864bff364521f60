// db_mix — one database thread serving a mix of requests, each kind the model of its own workload
// here: puts into an LSM write path (memtable_wal), B-tree index operations (btree), optimistic
// transactions (txn_sets), records naming keys (string_pool) and analytical queries with
// per-query temporaries (query_temps), interleaved in one thread, one heap, one strategy.
//
// Models: seed 003 (Lightning DB) applying all of its allocation techniques at once and
// estimating "Total Reduction: 50-70%" of allocations (claim L3-9): small vectors for B-tree
// entry lists and transaction read/write sets, reserved staging buffers with shared slices for
// the WAL and memtable, an interner for key names, an arena for query temporaries. Measuring
// each technique on its own workload and averaging the ratios weighs a technique that removes
// 100 allocations per query like one that removes 0.03 per index operation; here each kind
// contributes the allocations it really makes in a stated mix, and the figure is one ratio of
// totals: allocator calls per operation of the whole mix.
//
// The mix, per 100 operations (an OLTP store with a write-heavy, YCSB-A-like share of writes and
// a little analytics): 40 puts, 25 index operations (half lookups, a quarter inserts, a quarter
// deletes), 20 transactions of 2-31 reads and writes, 13 key-name records, 2 queries (60% group-by
// of 32-256 rows, 40% hash join). Each kind is exactly its model's operation, at the model's own
// sizes; the models' header comments say what each leaves out.
//
// Techniques: the strategy-side ones come from S as in each model (S's vector for the index and
// the transactions, S's buffers for the memtable, S's resettable blocks for the queries); a model
// that does not accept S runs the plain standard way (std::vector, deep-copied buffers, global
// operator new), so a strategy that provides one technique changes only its part of the mix.
// The workload-side ones are the variants:
//   plain   buffers grown per batch (memtable_wal:growth), key names copied (string_pool:plain);
//   tuned   staging buffers reserved once (memtable_wal:reserve), key names interned
//           (string_pool:interned).
// L3-9 compares `all_techniques` (strategies/all_techniques.cpp: arena + small_vector +
// shared_bytes) on `tuned` with `std` on `plain`. Pairs only with the baseline and seed 003's
// own strategies of the vector, buffers and arena kinds, so that the matrix does not repeat each
// model's whole strategy list here.
//
// working_set: per mille of each model's default working set (1000: each model at its default).
// Digest: each model's own digest (every result read back, as the model checks it), folded.
#pragma once

#include "allocproof/registry.hpp"
#include "allocproof/strategy.hpp"
#include "allocproof/workload.hpp"
#include "workloads/btree.hpp"
#include "workloads/memtable_wal.hpp"
#include "workloads/query_temps.hpp"
#include "workloads/string_pool.hpp"
#include "workloads/support/family_fallback.hpp"
#include "workloads/support/tagged_blocks.hpp"
#include "workloads/txn_sets.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <type_traits>
#include <vector>

namespace allocproof::workloads {

namespace support {

// Every family the plain standard-library way, as strategies/std.cpp provides them: what a model
// of the mix runs on when S provides none of the families it uses.
struct plain_way : global_new_blocks {
    static constexpr strategy_traits traits{
        .name = "plain_way",
        .summary = "",
        .origin = "",
        .provides_blocks = true,
        .provides_vector = true,
        .provides_object_pool = true,
        .provides_buffers = true,
        .thread_safe = true,
        .cross_thread_free = true,
    };
    using global_new_blocks::global_new_blocks;
    template <class T, std::size_t N>
    using vector = std::vector<T>;
    template <class T>
    using object_pool = fresh_objects<T>;
    using buffer = copied_buffer;
};

// The index of `name` among a workload's variants; a name the workload no longer has stops the
// build rather than measuring another form.
template <std::size_t N>
consteval unsigned variant_index(const std::array<std::string_view, N>& names, std::string_view name) {
    for (std::size_t i = 0; i < N; ++i) {
        if (names[i] == name) return static_cast<unsigned>(i);
    }
    throw "no such variant";
}

}  // namespace support

struct db_mix {
    static constexpr std::array<std::string_view, 2> variant_names{"plain", "tuned"};
    enum variant : unsigned { plain = 0, tuned = 1 };

    static constexpr workload_traits traits{
        .name = "db_mix",
        .summary = "one thread's request mix: puts, B-tree index ops, transactions, key names, queries",
        .quick_scale = {.ops_per_thread = 10'000, .working_set = 500, .warmup_ops = 1'000},
        .default_scale = {.ops_per_thread = 25'000, .working_set = 1'000, .warmup_ops = 2'500},
        .test_scale = {.ops_per_thread = 3'000, .working_set = 50, .warmup_ops = 300},
        .families = "blocks, vector, buffers",
        .claims = "L3-9",
        .variants = variant_names,
    };

    // Operations per 100 of each kind, in the order of the models below.
    static constexpr std::array<unsigned, 5> mix_percent{40, 25, 20, 13, 2};

    // The mix's variant as the workload-side techniques the models take.
    struct techniques {
        bool reserved_buffers;
        bool interned_names;
    };
    static constexpr techniques techniques_of(unsigned v) { return {v == tuned, v == tuned}; }

    // Test doubles (origin "test", never in a matrix) too: they show that the digest can fail.
    template <class S>
    static constexpr bool seed_003_technique =
        (S::traits.origin.find("seed 003") != std::string_view::npos || S::traits.origin == "test") &&
        (S::traits.provides_vector || S::traits.provides_buffers ||
         (S::traits.provides_blocks && !S::traits.frees_individually && resettable<S>));

    template <class S>
    static constexpr bool accepts = S::traits.name == baseline_strategy || seed_003_technique<S>;

    // The model W's worker on S when W accepts S, on the plain way otherwise.
    template <class W, class S>
    using model_worker = typename W::template worker<std::conditional_t<W::template accepts<S>, S, support::plain_way>>;

    template <class S>
    class worker {
    public:
        worker(const workload_params& params, unsigned thread_index)
            : worker(params, thread_index, techniques_of(params.variant)) {}

        // The techniques chosen one by one (tests take each alone); the variants are two of these.
        worker(const workload_params& params, unsigned thread_index, techniques chosen)
            : random_(thread_seed(params.seed, thread_index)),
              puts_(model_params<memtable_wal>(params, 1, chosen.reserved_buffers ? wal_reserve : wal_growth),
                    thread_index),
              index_(model_params<btree>(params, 2, 0), thread_index),
              transactions_(model_params<txn_sets>(params, 3, txn_std_hash), thread_index),
              names_(model_params<string_pool>(params, 4, chosen.interned_names ? names_interned : names_plain),
                     thread_index),
              queries_(model_params<query_temps>(params, 5, 0), thread_index) {}

        worker(const worker&) = delete;
        worker& operator=(const worker&) = delete;

        void operation(std::uint64_t /*index*/) {
            unsigned pick = static_cast<unsigned>(random_.below(100));
            std::size_t kind = 0;
            while (pick >= mix_percent[kind]) pick -= mix_percent[kind++];
            const std::uint64_t n = operations_[kind]++;
            switch (kind) {
                case 0:
                    puts_.operation(n);
                    break;
                case 1:
                    index_.operation(n);
                    break;
                case 2:
                    transactions_.operation(n);
                    break;
                case 3:
                    names_.operation(n);
                    break;
                default:
                    queries_.operation(n);
                    break;
            }
        }

        std::uint64_t finish() {
            std::uint64_t digest = 0;
            for (std::uint64_t d :
                 {puts_.finish(), index_.finish(), transactions_.finish(), names_.finish(), queries_.finish()}) {
                digest = digest_fold(digest, d);
            }
            for (std::uint64_t n : operations_) digest = digest_fold(digest, n);
            return digest;
        }

        // Sums of the models' figures: the peaks of different models need not coincide, so the
        // peak is an upper bound of the mix's own.
        std::size_t live_bytes_peak() const {
            return puts_.live_bytes_peak() + index_.live_bytes_peak() + transactions_.live_bytes_peak() +
                   names_.live_bytes_peak() + queries_.live_bytes_peak();
        }
        std::size_t live_bytes() const {
            return live_now(puts_) + live_now(index_) + live_now(transactions_) + live_now(names_) + live_now(queries_);
        }

    private:
        static constexpr unsigned wal_reserve = support::variant_index(memtable_wal::variant_names, "reserve");
        static constexpr unsigned wal_growth = support::variant_index(memtable_wal::variant_names, "growth");
        static constexpr unsigned txn_std_hash = support::variant_index(txn_sets::variant_names, "std_hash");
        static constexpr unsigned names_plain = support::variant_index(string_pool::variant_names, "plain");
        static constexpr unsigned names_interned = support::variant_index(string_pool::variant_names, "interned");

        // Each model at its own default size, scaled by the mix's working set, on a seed of its own
        // (the same seed would correlate the models' key choices).
        template <class W>
        static workload_params model_params(const workload_params& mix, std::uint64_t salt, unsigned variant) {
            workload_params p = mix;
            p.scale.working_set =
                std::max<std::uint64_t>(W::traits.default_scale.working_set * mix.scale.working_set / 1000, 1);
            p.seed = split_mix(mix.seed ^ (salt * 0xA0761D6478BD642FULL)).next();
            p.variant = variant;
            return p;
        }

        template <class M>
        static std::size_t live_now(const M& model) {
            if constexpr (requires { model.live_bytes(); }) {
                return model.live_bytes();
            } else {
                return model.live_bytes_peak();
            }
        }

        static constexpr std::size_t model_count = mix_percent.size();

        split_mix random_;
        model_worker<memtable_wal, S> puts_;
        model_worker<btree, S> index_;
        model_worker<txn_sets, S> transactions_;
        model_worker<string_pool, S> names_;
        model_worker<query_temps, S> queries_;
        std::array<std::uint64_t, model_count> operations_{};
    };
};

}  // namespace allocproof::workloads

ALLOCPROOF_REGISTER_WORKLOAD(allocproof::workloads::db_mix)
