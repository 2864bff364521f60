// long_contexts — per-request contexts that live across many operations and hold buffers of
// widely varying size: a request (a session, a long query) acquires a context, loads its input
// into the context's buffer, works on it for hundreds of operations, and releases it; how many
// requests are open at once rises and falls.
//
// Models: the case seed 004 (Rust Logic Graph) warns against in its pooling guide, "Don't use
// pooling when: ... Contexts are long-lived ... Contexts vary greatly in size" (claim R4-5), as a
// server keeps per-session or per-query scratch state. A pooled context keeps its buffer when
// released (reset() forgets the contents, not the storage), as the seed's ContextPool keeps a
// cleared map's capacity: the next request reuses it, growing it when it needs more. So a pool
// saves one context allocation and one buffer allocation per request, amortised over the
// request's hundreds of operations, and it holds idle contexts whose buffers grew to the largest
// request each has served.
//   * "Widely varying": buffer sizes log-uniform from 1 KiB to 1 MiB (each power of two equally
//     likely, a mean of about 150 KiB); the whole buffer is written when the request loads it.
//   * "Long-lived": a request lasts 200-800 of its own operations; with several requests open,
//     a context stays acquired for a few thousand of the thread's operations.
//   * Open requests per thread: a target drawn from 2-16 every 4,096 operations; a request that
//     ends is replaced only while fewer than the target are open, so idle contexts wait in the
//     pool when the load falls. The pool keeps up to 16 (the most ever open).
//   * Contexts come from the strategy's object pool (`std`: new/delete), one pool per thread.
// One operation is one step of one open request: read a 64-byte record of its buffer at a
// position the request chooses, fold it into the request's checksum and write it back updated.
// The memory figures that matter: resident memory held during the measured phase, against
// `std` on the same operations (R4-5's memory part), and the live bytes (buffer bytes of open
// requests) beside it.
// Does not model: the contexts' other state (maps, strings), threads sharing one pool, or a
// pool that trims idle objects.
//
// Digest: each request's checksum and a sample of its buffer, read at release, in release order:
// a context handed to two requests at once changes it.
#pragma once

#include "allocproof/registry.hpp"
#include "allocproof/strategy.hpp"
#include "allocproof/workload.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace allocproof::workloads {

struct long_contexts {
    static constexpr workload_traits traits{
        .name = "long_contexts",
        .summary = "long-lived request contexts with 1 KiB-1 MiB buffers, 2-16 open: pooled vs fresh",
        .quick_scale = {.ops_per_thread = 100'000, .working_set = 16, .warmup_ops = 10'000},
        .default_scale = {.ops_per_thread = 250'000, .working_set = 16, .warmup_ops = 25'000},
        .test_scale = {.ops_per_thread = 20'000, .working_set = 16, .warmup_ops = 2'000},
        .families = "object_pool",
        .claims = "R4-5",
    };

    static constexpr std::size_t min_buffer = 1024;
    static constexpr unsigned size_doublings = 10;  // up to 1 MiB
    static constexpr std::uint64_t min_steps = 200;
    static constexpr std::uint64_t max_steps = 800;
    static constexpr std::uint64_t load_period = 4096;  // operations between changes of the target
    static constexpr std::size_t record_words = 8;      // 64 bytes

    template <class S>
    static constexpr bool accepts = S::traits.provides_object_pool;

    // A request's scratch state: a buffer of 64-bit words, kept across reset() (what a pool reuses).
    class context {
    public:
        void reset() { words_used_ = 0; }

        // Makes room for `bytes` and writes the request's input into all of it.
        void load(std::uint64_t seed, std::size_t bytes) {
            const std::size_t words = bytes / sizeof(std::uint64_t);
            if (words > capacity_) {
                storage_.reset();  // before the new one: a pool's growth never holds both
                storage_ = std::make_unique_for_overwrite<std::uint64_t[]>(words);
                capacity_ = words;
            }
            words_used_ = words;
            split_mix input(seed);
            for (std::size_t i = 0; i < words; ++i) storage_[i] = input.next();
        }

        // Reads the record at `position` (any number: it wraps), writes it back updated.
        std::uint64_t step(std::uint64_t position, std::uint64_t stamp) {
            const std::size_t records = words_used_ / record_words;
            std::uint64_t* record = &storage_[(position % records) * record_words];
            std::uint64_t sum = 0;
            for (std::size_t i = 0; i < record_words; ++i) {
                sum = sum * 31 + record[i];
                record[i] ^= stamp + i;
            }
            return sum;
        }

        // Sixteen words spread over the buffer.
        std::uint64_t sample() const {
            std::uint64_t sum = 0;
            for (std::size_t i = 0; i < 16; ++i) sum = sum * 31 + storage_[i * (words_used_ / 16)];
            return sum;
        }

        std::size_t used_bytes() const { return words_used_ * sizeof(std::uint64_t); }

    private:
        std::unique_ptr<std::uint64_t[]> storage_;
        std::size_t capacity_ = 0;  // words
        std::size_t words_used_ = 0;
    };

    template <class S>
    using pool_type = typename S::template object_pool<context>;

    template <class S>
    class worker {
    public:
        // working_set: the most requests open at once (and the pool's capacity).
        worker(const workload_params& params, unsigned thread_index)
            : random_(thread_seed(params.seed, thread_index)),
              most_open_(std::max<std::uint64_t>(params.scale.working_set, 2)),
              pool_(most_open_) {
            open_.reserve(most_open_);
            target_ = most_open_ / 2;
            while (open_.size() < target_) open_request();
        }

        worker(const worker&) = delete;
        worker& operator=(const worker&) = delete;
        ~worker() { close_all(); }

        void operation(std::uint64_t index) {
            if (index % load_period == 0) target_ = 2 + random_.below(most_open_ - 1);
            const std::uint64_t r = random_.next();
            request& q = open_[r % open_.size()];
            q.checksum = q.checksum * 31 + q.ctx->step(r >> 16, index);
            if (--q.steps_left == 0) {
                close_request(static_cast<std::size_t>(&q - open_.data()));
                while (open_.size() < target_) open_request();
                if (open_.empty()) open_request();
            }
        }

        std::uint64_t finish() {
            close_all();
            return digest_;
        }

        std::size_t live_bytes() const { return live_bytes_; }
        std::size_t live_bytes_peak() const { return live_bytes_peak_; }

    private:
        struct request {
            context* ctx;
            std::uint64_t steps_left;
            std::uint64_t checksum;
        };

        // 1 KiB << k, k uniform in 0..10: log-uniform over 1 KiB-1 MiB.
        std::size_t draw_size() { return min_buffer << random_.below(size_doublings + 1); }

        void open_request() {
            context* c = pool_.acquire();
            c->load(random_.next(), draw_size());
            open_.push_back({c, min_steps + random_.below(max_steps - min_steps + 1), 0});
            live_bytes_ += c->used_bytes();
            live_bytes_peak_ = std::max(live_bytes_peak_, live_bytes_);
        }

        void close_request(std::size_t i) {
            request& q = open_[i];
            digest_ = digest_fold(digest_fold(digest_, q.checksum), q.ctx->sample());
            live_bytes_ -= q.ctx->used_bytes();
            pool_.release(q.ctx);
            q = open_.back();
            open_.pop_back();
        }

        void close_all() {
            while (!open_.empty()) close_request(open_.size() - 1);
        }

        split_mix random_;
        std::uint64_t most_open_;
        pool_type<S> pool_;
        std::vector<request> open_;
        std::size_t target_ = 0;
        std::uint64_t digest_ = 0;
        std::size_t live_bytes_ = 0;
        std::size_t live_bytes_peak_ = 0;
    };
};

}  // namespace allocproof::workloads

ALLOCPROOF_REGISTER_WORKLOAD(allocproof::workloads::long_contexts)
