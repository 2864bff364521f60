// graph — graph nodes and search-result lists acquired and released around k-hop and BFS
// queries, while nodes are inserted and removed (churn).
//
// Models: the hot paths of seed 002's Agrama memory pool system: a graph store whose nodes
// (128 B: key, properties, up to 24 neighbour ids) come from one pool (its node_pool), and
// search results (fixed 256 B chunks of 15 hits, linked) from another (its search_result_pool).
// A query either expands every node within two hops of a start node, or runs a breadth-first
// search of at most 96 visits keeping the nodes that pass a key filter; its hits go into a result
// list that lives on after the query (a client reads it later), and is read and released when
// it leaves a window of the 16 most recent results. Between queries, nodes are removed and
// inserted: a random slot among 2 x working_set is toggled, so about working_set nodes are live.
// Node keys and neighbour ids are read back from the node memory during the search, and hits from
// the result chunks at release; both go into the digest, as does a removed node's content. At
// release every byte of a node and of a chunk is read into the digest (a chunk's unused hits are
// zeroed when it is taken, so that they too are the same on every strategy), except a chunk's
// link, an address, which is followed instead: a strategy that writes into a live block anywhere
// changes the digest or breaks the walk.
// Does not model: edge updates on live nodes, embeddings (see workloads/embeddings.hpp), arenas
// for per-query temporaries (the visited set is the workload's own, not the strategy's), or
// persistence. Neighbour ids may name empty slots: the search skips them, as a store skips
// deleted nodes.
//
// Claims: A2-1 (time spent allocating nodes and results, pool vs global allocator), A2-2 (alloc
// + free cycles), A2-4 (memory held vs live after churn: live_bytes() feeds the timeline),
// A2-6 (pool hit rate in steady state: the strategies' statistics, e.g. fixed_pool_stats), A2-7
// (latency percentiles of operations that allocate).
//
// Each thread has its own graph and strategy instances.
#pragma once

#include "allocproof/registry.hpp"
#include "allocproof/strategy.hpp"
#include "allocproof/workload.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace allocproof::workloads {

struct graph {
    static constexpr workload_traits traits{
        .name = "graph",
        .summary = "128 B graph nodes and 256 B result chunks around 2-hop and BFS queries, with node churn",
        .quick_scale = {.ops_per_thread = 2'500, .working_set = 10'000, .warmup_ops = 250},
        .default_scale = {.ops_per_thread = 6'000, .working_set = 30'000, .warmup_ops = 600},
        .test_scale = {.ops_per_thread = 1'500, .working_set = 600, .warmup_ops = 150},
        .families = "blocks",
        .claims = "A2-1 A2-2 A2-4 A2-6 A2-7",
    };

    static constexpr std::size_t max_degree = 24;
    static constexpr std::size_t hits_per_chunk = 15;
    static constexpr std::size_t result_window = 16;  // result lists kept alive after their query
    static constexpr std::size_t bfs_max_visits = 96;
    static constexpr std::size_t block_alignment = 16;

    struct node {
        std::uint64_t key;
        std::uint32_t slot;
        std::uint32_t degree;
        std::array<std::uint32_t, max_degree> neighbours;  // slot indices
        std::array<std::uint64_t, 2> properties;
    };
    static_assert(sizeof(node) == 128);

    struct hit {
        std::uint32_t slot;
        std::uint32_t hops;
        std::uint64_t key;
    };
    struct result_chunk {
        result_chunk* next;
        std::uint32_t count;
        std::uint32_t query;
        std::array<hit, hits_per_chunk> hits;
    };
    static_assert(sizeof(result_chunk) == 256);

    template <class S>
    static constexpr bool accepts = S::traits.provides_blocks&& S::traits.frees_individually && !S::traits.may_refuse &&
                                    S::traits.max_alignment >= block_alignment;

    template <class S>
    class worker {
    public:
        worker(const workload_params& params, unsigned thread_index)
            : random_(thread_seed(params.seed, thread_index)),
              nodes_(block_spec{sizeof(node), block_alignment}),
              results_(block_spec{sizeof(result_chunk), block_alignment}),
              slots_(2 * std::max<std::uint64_t>(params.scale.working_set, 1), nullptr),
              visited_(slots_.size(), 0) {
            for (std::size_t i = 0; i < slots_.size(); i += 2) insert(i);
            frontier_.reserve(slots_.size());
            hop_of_.reserve(slots_.size());
        }

        worker(const worker&) = delete;
        worker& operator=(const worker&) = delete;

        // One in four operations toggles a node; the others run a query, half 2-hop, half BFS.
        void operation(std::uint64_t /*index*/) {
            const std::uint64_t choice = random_.next();
            if ((choice & 3) == 0) {
                const std::size_t slot = random_.below(slots_.size());
                if (slots_[slot] != nullptr) {
                    remove(slot);
                } else {
                    insert(slot);
                }
                return;
            }
            if (live_nodes_ == 0) return;
            std::size_t start = random_.below(slots_.size());
            while (slots_[start] == nullptr) start = (start + 1) % slots_.size();
            result_chunk* list = (choice & 4) != 0 ? k_hop(start) : bfs(start, choice >> 32);
            retire_result(window_[window_next_]);
            window_[window_next_] = list;
            window_next_ = (window_next_ + 1) % result_window;
        }

        std::uint64_t finish() {
            for (auto& list : window_) {
                retire_result(list);
                list = nullptr;
            }
            for (std::size_t i = 0; i < slots_.size(); ++i) {
                if (slots_[i] != nullptr) remove(i);
            }
            return digest_;
        }

        std::size_t live_bytes() const { return live_bytes_; }
        std::size_t live_bytes_peak() const { return live_bytes_peak_; }

    private:
        // ---- result lists: chunks of hits, linked, from the results pool ---------------------
        struct result_list {
            explicit result_list(worker& w, std::uint64_t filter = 0) : owner(w), mask(filter & 3) {}
            bool keeps(std::uint64_t key) const { return mask == 0 || (key & 3) == mask; }
            void add(const hit& h) {
                if (tail == nullptr || tail->count == hits_per_chunk) {
                    auto* chunk = static_cast<result_chunk*>(owner.results_.allocate(sizeof(result_chunk)));
                    chunk->next = nullptr;
                    chunk->count = 0;
                    chunk->query = static_cast<std::uint32_t>(owner.queries_);
                    chunk->hits = {};
                    (tail == nullptr ? head : tail->next) = chunk;
                    tail = chunk;
                    owner.grow(sizeof(result_chunk));
                }
                tail->hits[tail->count++] = h;
            }
            worker& owner;
            std::uint64_t mask;
            result_chunk* head = nullptr;
            result_chunk* tail = nullptr;
        };

        // ---- nodes ------------------------------------------------------------------------
        void insert(std::size_t slot) {
            auto* n = static_cast<node*>(nodes_.allocate(sizeof(node)));
            const std::uint64_t key = random_.next();
            n->key = key;
            n->slot = static_cast<std::uint32_t>(slot);
            n->degree = static_cast<std::uint32_t>(4 + (key >> 59) % (max_degree - 3));  // 4..24
            for (std::uint32_t d = 0; d < max_degree; ++d) {
                n->neighbours[d] = d < n->degree ? static_cast<std::uint32_t>(random_.below(slots_.size())) : 0;
            }
            n->properties = {key * 0x9E3779B97F4A7C15ULL, key ^ slot};
            slots_[slot] = n;
            ++live_nodes_;
            grow(sizeof(node));
        }

        void remove(std::size_t slot) {
            const node* n = slots_[slot];
            std::uint64_t sum = n->key ^ n->slot ^ (std::uint64_t{n->degree} << 32);
            for (std::uint32_t d = 0; d < max_degree; ++d) sum = sum * 31 + n->neighbours[d];
            sum += n->properties[0] ^ n->properties[1];
            digest_ = digest_fold(digest_, sum);
            nodes_.deallocate(slots_[slot], sizeof(node));
            slots_[slot] = nullptr;
            --live_nodes_;
            live_bytes_ -= sizeof(node);
        }

        // ---- queries ----------------------------------------------------------------------
        // Every node within two hops of `start`: the frontier of hop h is frontier_[begin, end).
        result_chunk* k_hop(std::size_t start) {
            result_list out(*this);
            begin_query();
            visit(start, 0, out);
            std::size_t begin = 0;
            for (std::uint32_t hop = 1; hop <= 2; ++hop) {
                const std::size_t end = frontier_.size();
                for (std::size_t i = begin; i < end; ++i) expand(frontier_[i], hop, out, ~std::size_t{0});
                begin = end;
            }
            return out.head;
        }

        // Breadth-first from `start` until bfs_max_visits nodes were seen; keeps the nodes whose
        // key passes the filter (about one in four).
        result_chunk* bfs(std::size_t start, std::uint64_t filter) {
            result_list out(*this, filter | 1);
            begin_query();
            visit(start, 0, out);
            for (std::size_t i = 0; i < frontier_.size() && frontier_.size() < bfs_max_visits; ++i) {
                const std::uint32_t hops = hop_of_[i] + 1;
                expand(frontier_[i], hops, out, bfs_max_visits);
            }
            return out.head;
        }

        void begin_query() {
            ++epoch_;
            ++queries_;
            frontier_.clear();
            hop_of_.clear();
        }

        void expand(std::uint32_t from, std::uint32_t hops, result_list& out, std::size_t cap) {
            const node* n = slots_[from];
            if (n == nullptr) return;
            const std::uint32_t degree = std::min<std::uint32_t>(n->degree, max_degree);
            for (std::uint32_t d = 0; d < degree && frontier_.size() < cap; ++d) {
                const std::uint32_t next = n->neighbours[d];
                // A node overwritten by a wrong strategy may hold any id: stay in bounds.
                if (next < slots_.size() && slots_[next] != nullptr && visited_[next] != epoch_) {
                    visit(next, hops, out);
                }
            }
        }

        void visit(std::size_t slot, std::uint32_t hops, result_list& out) {
            visited_[slot] = epoch_;
            frontier_.push_back(static_cast<std::uint32_t>(slot));
            hop_of_.push_back(hops);
            const std::uint64_t key = slots_[slot]->key;
            if (out.keeps(key)) out.add({static_cast<std::uint32_t>(slot), hops, key});
        }

        void retire_result(result_chunk* chunk) {
            std::uint64_t sum = 0;
            while (chunk != nullptr) {
                sum = sum * 31 + (chunk->query ^ (std::uint64_t{chunk->count} << 32));
                for (std::uint32_t i = 0; i < hits_per_chunk; ++i) {
                    const hit& h = chunk->hits[i];
                    sum = sum * 31 + (h.key ^ (std::uint64_t{h.slot} << 8) ^ h.hops);
                }
                result_chunk* next = chunk->next;
                results_.deallocate(chunk, sizeof(result_chunk));
                live_bytes_ -= sizeof(result_chunk);
                chunk = next;
            }
            digest_ = digest_fold(digest_, sum);
        }

        void grow(std::size_t bytes) {
            live_bytes_ += bytes;
            live_bytes_peak_ = std::max(live_bytes_peak_, live_bytes_);
        }

        split_mix random_;
        S nodes_;
        S results_;
        std::vector<node*> slots_;
        std::vector<std::uint32_t> visited_;  // epoch of the last query that saw the slot
        std::vector<std::uint32_t> frontier_;
        std::vector<std::uint32_t> hop_of_;
        std::array<result_chunk*, result_window> window_{};
        std::size_t window_next_ = 0;
        std::size_t live_nodes_ = 0;
        std::uint32_t epoch_ = 0;
        std::uint64_t queries_ = 0;
        std::uint64_t digest_ = 0;
        std::size_t live_bytes_ = 0;
        std::size_t live_bytes_peak_ = 0;
    };
};

}  // namespace allocproof::workloads

ALLOCPROOF_REGISTER_WORKLOAD(allocproof::workloads::graph)
