// context_pool — the execution contexts of a dataflow graph: each graph node's run acquires a
// small key/value context, the node writes its outputs into it, and when the batch of runs is
// done every context is read back and released.
//
// Models: Rust Logic Graph's ContextPool (seed 004): a context is a hash map created with an
// initial capacity of 32 (PoolConfig::initial_capacity), acquire() returns a pooled one or makes
// a new one, release() clears it and keeps it up to max_pooled; the seed times 1, 100 and 1000
// contexts (claim R4-1) and tabulates allocations against the reuse rate (R4-2). Here a context
// is an open-addressing map of 32 slots {node, port, value} in one std::vector, cleared (not
// freed) by reset(); a fresh context costs two allocations (the object, its slots).
//   * Contexts come from the strategy's object pool (`std`: new/delete, no pooling).
//   * A thread-safe strategy's pool is ONE pool shared by every thread (object_pool_shared: the
//     seed's Arc<ContextPool>, whose own guide warns of contention), a single-thread strategy's
//     pool is per thread (object_pool, boost_object_pool): claim R4-3 is read across thread counts.
//   * One context in 16 takes 40-56 entries instead of 4-20 and grows its slots to 128; a pooled
//     context keeps the grown storage, so pooling also keeps the memory of the largest use (R4-5:
//     see live bytes; boost_object_pool constructs anew, so it frees them).
// working_set: the number of graph nodes whose outputs the contexts hold (their keys).
// Does not model: graph scheduling, JSON values (values are integers), or string keys that
// allocate (keys are {node, port} pairs, as short names in SSO strings would be).
//
// Variants (each keeps a batch of contexts live, then reads and releases them all):
//   batch100, batch1, batch1000   contexts per batch; max_pooled = the batch: 100% reuse in steady
//                                 state (R4-1 at 1, 100, 1000 contexts);
//   reuse50, reuse90              batch 100 with max_pooled 50 and 90: the pool discards the rest,
//                                 so only that share is reused (R4-2's sweep; L3-3, a pool whose
//                                 cap is below the batch).
// How to read R4-2: one operation is one context; `std` makes 2 allocator calls per op (plus a
// few for growth), so a pool with reuse rate r makes about 2 * (1 - r) — allocations saved =
// 1 - calls(pool) / calls(std). boost_object_pool ignores max_pooled (it keeps every chunk), and
// constructs each context anew, so it always allocates the slots: 1 call per op at best.
// With a shared pool, max_pooled is multiplied by the thread count, and the reuse variants' rate
// then depends on how the threads' batches interleave (50-100% for reuse50 at 2 threads): read
// R4-2 at one thread. tests/test_context_pool.cpp checks the rates at one thread.
//
// The digest folds, for each context at release, the values read back for every key written
// into it: a context handed to two runs at once, or not cleared, changes it.
#pragma once

#include "allocproof/registry.hpp"
#include "allocproof/strategy.hpp"
#include "allocproof/workload.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace allocproof::workloads {

struct context_pool {
    static constexpr std::array<std::string_view, 5> variant_names{"batch100", "batch1", "batch1000", "reuse50",
                                                                   "reuse90"};
    struct batching {
        std::size_t batch;
        std::size_t max_pooled;  // per thread
    };
    static constexpr std::array<batching, 5> batchings{batching{100, 100}, batching{1, 1}, batching{1000, 1000},
                                                       batching{100, 50}, batching{100, 90}};

    static constexpr workload_traits traits{
        .name = "context_pool",
        .summary = "graph contexts (32-slot key/value maps) acquired, filled, read and released in batches",
        .quick_scale = {.ops_per_thread = 10'000, .working_set = 1'000, .warmup_ops = 1'000},
        .default_scale = {.ops_per_thread = 25'000, .working_set = 1'000, .warmup_ops = 2'500},
        .test_scale = {.ops_per_thread = 2'000, .working_set = 1'000, .warmup_ops = 200},
        .families = "object_pool",
        .claims = "R4-1 R4-2 R4-3 L3-3",
        .variants = variant_names,
    };

    static constexpr std::size_t initial_capacity = 32;

    template <class S>
    static constexpr bool accepts = S::traits.provides_object_pool;

    // A node's outputs by {node, port}: linear probing over a power-of-two table, grown at 3/4.
    class context {
    public:
        context() : slots_(initial_capacity) {}

        void reset() {
            if (count_ == 0) return;
            std::fill(slots_.begin(), slots_.end(), slot{});
            count_ = 0;
        }

        void set(std::uint64_t node, std::uint64_t port, std::int64_t value) {
            if ((count_ + 1) * 4 > slots_.size() * 3) grow();
            slot& s = slots_[find(node, port)];
            if (!s.used) ++count_;
            s = {node, port, value, true};
        }

        std::int64_t get(std::uint64_t node, std::uint64_t port) const {
            const slot& s = slots_[find(node, port)];
            return s.used ? s.value : -1;
        }

        std::size_t capacity_bytes() const { return slots_.capacity() * sizeof(slot); }

    private:
        struct slot {
            std::uint64_t node = 0;
            std::uint64_t port = 0;
            std::int64_t value = 0;
            bool used = false;
        };

        // The slot holding {node, port}, or the empty slot where it would go.
        std::size_t find(std::uint64_t node, std::uint64_t port) const {
            const std::size_t mask = slots_.size() - 1;
            std::size_t i =
                static_cast<std::size_t>((((node * 0x9E3779B97F4A7C15ULL) ^ port) * 0xBF58476D1CE4E5B9ULL) >> 40) &
                mask;
            while (slots_[i].used && (slots_[i].node != node || slots_[i].port != port)) i = (i + 1) & mask;
            return i;
        }

        void grow() {
            std::vector<slot> old(slots_.size() * 2);
            old.swap(slots_);
            count_ = 0;
            for (const slot& s : old) {
                if (s.used) set(s.node, s.port, s.value);
            }
        }

        std::vector<slot> slots_;
        std::size_t count_ = 0;
    };

    template <class S>
    using pool_type = typename S::template object_pool<context>;

    // One pool for every thread when the strategy's pool is thread-safe; none otherwise.
    // (On the heap, built once per cell: GCC 12 with ASan warned of a std::optional<pool>.)
    template <class S>
    class shared {
    public:
        explicit shared(const workload_params& params) {
            if constexpr (S::traits.thread_safe) {
                pool_ = std::make_unique<pool_type<S>>(batchings[params.variant].max_pooled * params.threads);
            }
        }
        pool_type<S>* pool() { return pool_.get(); }

    private:
        std::unique_ptr<pool_type<S>> pool_;
    };

    template <class S>
    class worker {
    public:
        worker(const workload_params& params, unsigned thread_index, shared<S>& common)
            : batching_(batchings[params.variant]),
              random_(thread_seed(params.seed, thread_index)),
              nodes_(std::max<std::uint64_t>(params.scale.working_set, 1)) {
            if (common.pool() == nullptr) own_pool_ = std::make_unique<pool_type<S>>(batching_.max_pooled);
            pool_ = common.pool() != nullptr ? common.pool() : own_pool_.get();
            held_.reserve(batching_.batch);
        }

        worker(const worker&) = delete;
        worker& operator=(const worker&) = delete;
        ~worker() { drain(); }

        void operation(std::uint64_t /*index*/) {
            if (held_.size() == batching_.batch) drain();
            const std::uint64_t seed = random_.next();
            const std::size_t entries = (seed & 15) == 0 ? 40 + (seed >> 8) % 17 : 4 + (seed >> 8) % 17;
            context* c = pool_->acquire();
            fill(*c, seed, entries);
            held_.push_back({c, seed, entries});
            live_bytes_ += c->capacity_bytes();
            live_bytes_peak_ = std::max(live_bytes_peak_, live_bytes_);
        }

        std::uint64_t finish() {
            drain();
            return digest_;
        }

        std::size_t live_bytes() const { return live_bytes_; }
        std::size_t live_bytes_peak() const { return live_bytes_peak_; }

    private:
        struct run {
            context* ctx;
            std::uint64_t seed;
            std::size_t entries;
        };

        // The graph's nodes are working_set many; a context holds one node's outputs.
        std::uint64_t node_of(std::uint64_t seed) const { return (seed >> 32) % nodes_; }

        // The node writes `entries` outputs, some ports twice (the later value stands).
        void fill(context& c, std::uint64_t seed, std::size_t entries) {
            const std::uint64_t node = node_of(seed);
            for (std::size_t i = 0; i < entries; ++i) {
                c.set(node, i, static_cast<std::int64_t>((seed ^ (i * 0x94D049BB133111EBULL)) >> 20));
            }
            c.set(node, seed % entries, static_cast<std::int64_t>(seed >> 44));
        }

        void drain() {
            for (const run& r : held_) {
                const std::uint64_t node = node_of(r.seed);
                std::uint64_t sum = 0;
                for (std::size_t i = 0; i <= r.entries; ++i) {  // one past the last: absent, -1
                    sum = sum * 31 + static_cast<std::uint64_t>(r.ctx->get(node, i));
                }
                digest_ = digest_fold(digest_, sum);
                live_bytes_ -= r.ctx->capacity_bytes();
                pool_->release(r.ctx);
            }
            held_.clear();
        }

        batching batching_;
        split_mix random_;
        std::uint64_t nodes_;
        std::unique_ptr<pool_type<S>> own_pool_;
        pool_type<S>* pool_ = nullptr;
        std::vector<run> held_;
        std::uint64_t digest_ = 0;
        std::size_t live_bytes_ = 0;
        std::size_t live_bytes_peak_ = 0;
    };
};

}  // namespace allocproof::workloads

ALLOCPROOF_REGISTER_WORKLOAD(allocproof::workloads::context_pool)
