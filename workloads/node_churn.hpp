// node_churn — fixed-size B-tree-like nodes (64 B and 256 B) allocated and freed in a seeded
// random interleaving around a live set.
//
// Models: the node traffic of an index under a steady mix of inserts and deletes, where a
// database keeps one pool per node type. Every node is written in full when allocated and read in
// full when freed (support/block_contents.hpp), so a strategy pays for the cache lines it hands
// out, and any byte changed while the node was live changes the digest: overlapping,
// nested or reused-while-live blocks are caught.
// Does not model: tree structure, key comparisons, or node sizes other than two classes.
//
// Each operation picks a slot among 2 x working_set at random: an empty slot gets a new node (one
// allocation), a full one has its node read and freed (one free). The live set thus wanders
// around working_set nodes. Each thread has its own slots, nodes and strategy instances.
#pragma once

#include "allocproof/registry.hpp"
#include "allocproof/strategy.hpp"
#include "allocproof/workload.hpp"
#include "workloads/support/block_contents.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace allocproof::workloads {

struct node_churn {
    static constexpr workload_traits traits{
        .name = "node_churn",
        .summary = "64 B / 256 B index nodes allocated, written, read and freed around a live set",
        .quick_scale = {.ops_per_thread = 400'000, .working_set = 10'000, .warmup_ops = 40'000},
        .default_scale = {.ops_per_thread = 1'000'000, .working_set = 50'000, .warmup_ops = 100'000},
        .test_scale = {.ops_per_thread = 20'000, .working_set = 500, .warmup_ops = 1'000},
        .families = "blocks",
        .claims = "A2-2 A2-3 A2-4",
    };

    static constexpr std::array<std::size_t, 2> node_sizes{64, 256};
    static constexpr std::size_t node_alignment = 16;

    template <class S>
    static constexpr bool accepts = S::traits.provides_blocks&& S::traits.frees_individually && !S::traits.may_refuse &&
                                    S::traits.max_alignment >= node_alignment;

    template <class S>
    class worker {
    public:
        worker(const workload_params& params, unsigned thread_index)
            : random_(thread_seed(params.seed, thread_index)),
              pools_{S(block_spec{node_sizes[0], node_alignment}), S(block_spec{node_sizes[1], node_alignment})},
              slots_(2 * std::max<std::uint64_t>(params.scale.working_set, 1)) {
            // Start at the live set's equilibrium: half the slots full.
            for (std::size_t i = 0; i < slots_.size(); i += 2) {
                place(i);
            }
        }

        worker(const worker&) = delete;
        worker& operator=(const worker&) = delete;

        void operation(std::uint64_t /*index*/) {
            const std::size_t chosen = random_.below(slots_.size());
            if (slots_[chosen].node != nullptr) {
                retire(chosen);
            } else {
                place(chosen);
            }
        }

        std::uint64_t finish() {
            for (std::size_t i = 0; i < slots_.size(); ++i) {
                if (slots_[i].node != nullptr) {
                    retire(i);
                }
            }
            return digest_;
        }

        std::size_t live_bytes_peak() const { return live_bytes_peak_; }

    private:
        struct slot {
            void* node = nullptr;
            std::uint32_t size_class = 0;
        };

        void place(std::size_t index) {
            std::uint64_t key = random_.next();
            std::uint32_t size_class = static_cast<std::uint32_t>(key >> 63);
            std::size_t bytes = node_sizes[size_class];
            void* node = pools_[size_class].allocate(bytes);
            support::fill(node, bytes, key);
            slots_[index] = {node, size_class};
            live_bytes_ += bytes;
            live_bytes_peak_ = std::max(live_bytes_peak_, live_bytes_);
        }

        void retire(std::size_t index) {
            slot& s = slots_[index];
            std::size_t bytes = node_sizes[s.size_class];
            digest_ = digest_fold(digest_, support::read_back(s.node, bytes) ^ index);
            pools_[s.size_class].deallocate(s.node, bytes);
            s.node = nullptr;
            live_bytes_ -= bytes;
        }

        split_mix random_;
        std::array<S, 2> pools_;
        std::vector<slot> slots_;
        std::uint64_t digest_ = 0;
        std::size_t live_bytes_ = 0;
        std::size_t live_bytes_peak_ = 0;
    };
};

}  // namespace allocproof::workloads

ALLOCPROOF_REGISTER_WORKLOAD(allocproof::workloads::node_churn)
