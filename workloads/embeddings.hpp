// embeddings — k-nearest-neighbour scans over float32 embedding vectors of 128, 384, 768 and 1536
// dimensions, scalar or AVX2, on storage as aligned as the strategy gives it or deliberately
// misaligned, while vectors are replaced (churn).
//
// Models: seed 002's EmbeddingPool / AlignedBlock ("32-byte aligned for AVX2", claim A2-5): a
// vector store keeps one pool per dimension (one strategy instance per collection), and a query
// computes the squared L2 distance from a query vector to every vector of one collection, keeping
// the 8 nearest. One query in four also replaces a vector of the collection (free, allocate,
// fill), so storage churns as embeddings are updated.
// Variants (the technique, not the allocator):
//   scalar           one float at a time (the compiler does not vectorise a float reduction
//                    without -ffast-math, so this is the plain loop's speed)
//   simd_aligned     AVX2+FMA, 32 floats per step, the vector at the start of its block: as
//                    aligned as the strategy makes it (aligned_pool, fixed pools: 64 B; std,
//                    pmr and Boost pools: 16 B, as alignof(max_align_t) promises no more)
//   simd_misaligned  the same kernel on a block one float larger, the vector starting 4 bytes in:
//                    every other 32-byte load of a 64-aligned block splits a cache line
// So alignment's own share is simd_aligned vs simd_misaligned on one strategy, and the
// strategy's share is aligned_pool vs std within simd_aligned. Without AVX2 (checked at run time)
// the SIMD variants run the scalar kernel and say so once on stderr.
// The digest folds the ids of the 8 nearest and their distances quantised to 1/16, read from the
// strategy's memory; it is equal across strategies within a variant (the kernels never peel to an
// alignment boundary, see support/distance_kernels.hpp), not across variants. A vector's block is
// also read in full when it is released (the misaligned variant's leading float is zeroed), so a
// byte changed by a wrong strategy shows even where it does not move a query's 8 nearest.
// Does not model: approximate indexes (HNSW, IVF), quantised vectors, batching of queries, or the
// seed's zeroing on release (aligned_pool does it by its own option).
//
// Claims: A2-5 (aligned SIMD vs unaligned SIMD vs scalar distance kernels).
//
// Each thread has its own collections and strategy instances.
#pragma once

#include "allocproof/registry.hpp"
#include "allocproof/strategy.hpp"
#include "allocproof/workload.hpp"
#include "workloads/support/bytes.hpp"
#include "workloads/support/distance_kernels.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

namespace allocproof::workloads {

struct embeddings {
    static constexpr std::array<std::string_view, 3> variant_names{"scalar", "simd_aligned", "simd_misaligned"};
    static constexpr workload_traits traits{
        .name = "embeddings",
        .summary = "kNN distance scans over 128..1536-dim float32 vectors: scalar, AVX2 aligned, AVX2 misaligned",
        .quick_scale = {.ops_per_thread = 300, .working_set = 128, .warmup_ops = 30},
        .default_scale = {.ops_per_thread = 800, .working_set = 128, .warmup_ops = 80},
        .test_scale = {.ops_per_thread = 60, .working_set = 96, .warmup_ops = 6},
        .families = "blocks",
        .claims = "A2-5",
        .variants = variant_names,
    };

    static constexpr std::array<std::size_t, 4> dimensions{128, 384, 768, 1536};
    static constexpr std::size_t k = 8;
    static constexpr std::size_t wanted_alignment = 64;

    template <class S>
    static constexpr bool accepts = S::traits.provides_blocks&& S::traits.frees_individually && !S::traits.may_refuse;

    template <class S>
    class worker {
    public:
        worker(const workload_params& params, unsigned thread_index)
            : random_(thread_seed(params.seed, thread_index)),
              simd_(params.variant != 0 && simd_available()),
              offset_(params.variant == 2 ? 1 : 0) {
            const std::size_t per_128 = params.scale.working_set;
            for (std::size_t c = 0; c < dimensions.size(); ++c) {
                const std::size_t dim = dimensions[c];
                // Ask for the best alignment the strategy offers: that is what it is measured on.
                collections_[c].emplace(block_spec{block_bytes(dim), alignment()});
                auto& vectors = collections_[c]->vectors;
                vectors.resize(std::max<std::size_t>(k, per_128 * dimensions[0] / dim));
                for (auto& v : vectors) store(c, v);
            }
        }

        worker(const worker&) = delete;
        worker& operator=(const worker&) = delete;

        void operation(std::uint64_t /*index*/) {
            const std::uint64_t choice = random_.next();
            const std::size_t c = choice % dimensions.size();
            collection& coll = *collections_[c];
            const std::size_t dim = dimensions[c];
            fill(query_.data(), dim, choice >> 8);

            std::array<std::pair<float, std::uint64_t>, k> nearest;
            nearest.fill({INFINITY, 0});
            for (const auto& v : coll.vectors) {
                const float d = simd_ ? kernels::l2_avx2(query_.data(), v.data, dim)
                                      : kernels::l2_scalar(query_.data(), v.data, dim);
                if (d < nearest[k - 1].first) {
                    std::size_t at = k - 1;
                    for (; at > 0 && nearest[at - 1].first > d; --at) nearest[at] = nearest[at - 1];
                    nearest[at] = {d, v.id};
                }
            }
            for (const auto& [distance, id] : nearest) {
                digest_ = digest_fold(digest_, id ^ (static_cast<std::uint64_t>(std::lround(distance * 16.0f)) << 32));
            }

            if (((choice >> 4) & 3) == 0) {
                entry& victim = coll.vectors[random_.below(coll.vectors.size())];
                release(c, victim);
                store(c, victim);
            }
        }

        std::uint64_t finish() {
            for (std::size_t c = 0; c < dimensions.size(); ++c) {
                for (auto& v : collections_[c]->vectors) release(c, v);
                collections_[c].reset();
            }
            return digest_;
        }

        std::size_t live_bytes() const { return live_bytes_; }
        std::size_t live_bytes_peak() const { return live_bytes_peak_; }

    private:
        struct entry {
            float* data = nullptr;  // offset_ floats into its block
            std::uint64_t id = 0;
        };
        struct collection {
            explicit collection(const block_spec& spec) : pool(spec) {}
            S pool;
            std::vector<entry> vectors;
        };

        static constexpr std::size_t alignment() {
            return std::min<std::size_t>(wanted_alignment, S::traits.max_alignment);
        }
        std::size_t block_bytes(std::size_t dim) const { return (dim + offset_) * sizeof(float); }

        static bool simd_available() {
            const bool yes = kernels::have_avx2();
            static std::once_flag said;
            if (!yes) {
                std::call_once(said, [] {
                    std::fprintf(stderr,
                                 "embeddings: no AVX2+FMA on this CPU: the simd variants run the scalar kernel\n");
                });
            }
            return yes;
        }

        // Values in [-1, 1) from a xorshift: cheap next to a scan, so filling does not hide it.
        static void fill(float* out, std::size_t dim, std::uint64_t seed) {
            auto x = static_cast<std::uint32_t>(seed | 1);
            for (std::size_t i = 0; i < dim; ++i) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                out[i] = static_cast<float>(static_cast<std::int32_t>(x)) * 0x1p-31f;
            }
        }

        void store(std::size_t c, entry& v) {
            const std::size_t bytes = block_bytes(dimensions[c]);
            auto* block = static_cast<float*>(collections_[c]->pool.allocate(bytes));
            std::fill_n(block, offset_, 0.0f);
            v.data = block + offset_;
            v.id = next_id_++;
            fill(v.data, dimensions[c], random_.next());
            live_bytes_ += bytes;
            live_bytes_peak_ = std::max(live_bytes_peak_, live_bytes_);
        }

        void release(std::size_t c, entry& v) {
            const std::size_t bytes = block_bytes(dimensions[c]);
            float* block = v.data - offset_;
            digest_ =
                digest_fold(digest_, support::bytes_checksum(reinterpret_cast<const std::byte*>(block), bytes) ^ v.id);
            collections_[c]->pool.deallocate(block, bytes);
            v.data = nullptr;
            live_bytes_ -= bytes;
        }

        split_mix random_;
        const bool simd_;
        const std::size_t offset_;  // floats between a block's start and its vector
        std::array<std::optional<collection>, dimensions.size()> collections_;
        alignas(64) std::array<float, dimensions.back()> query_{};
        std::uint64_t next_id_ = 0;
        std::uint64_t digest_ = 0;
        std::size_t live_bytes_ = 0;
        std::size_t live_bytes_peak_ = 0;
    };
};

}  // namespace allocproof::workloads

ALLOCPROOF_REGISTER_WORKLOAD(allocproof::workloads::embeddings)
