// producer_consumer — threads in pairs: one only allocates and writes blocks of 8-1000 B and
// queues them, the other only dequeues, reads and frees them. Every free crosses threads.
//
// Models: a pipeline stage handing messages or row batches to the next stage (a network reader
// to a query worker, a log writer's producer to its flusher): memory is taken on one core and
// given back on another, so per-thread caches of the allocator (or pool) on the producer's side
// keep running dry while the consumer's side keeps filling up, and a shared pool is hit from two
// sides. L3-10 (contention with many threads; pooling against per-thread caches) and, indirectly,
// R4-3 (a shared pool under contention) read from it.
// Does not model: fan-in or fan-out (one producer feeds several consumers), batching of frees,
// back-pressure beyond a bounded queue, or any work on the messages besides writing and reading.
//
// Roles, by thread index: even thread 2p produces into queue p, odd thread 2p+1 consumes from it.
// With an odd thread count the last thread has no partner: it plays both roles on its own queue,
// as a stage that buffers its own output (each operation frees the oldest block when the queue is
// full, then allocates and queues a new one), so none of its frees cross threads. At one thread
// that is the whole workload. Each queue holds working_set blocks (rounded up to a power of two).
//
// Work: each operation of a producer makes and queues one block (waiting while the queue is
// full); each operation of a consumer takes, reads and frees one (waiting while it is empty).
// Producer and consumer run the same number of operations (warm-up included), so each consumer
// frees exactly what its producer made. Waiting spins briefly then yields (8 threads on 2 cores),
// and counts in the measured time: with more threads than cores, a pair runs only as fast as the
// scheduler lets both of its threads run.
//
// Determinism: a queue is FIFO, so a consumer reads its producer's blocks in the order the
// producer's seeded sequence made them, whatever the timing; the producer's digest is empty, the
// consumer's holds everything read back, and the runner folds them in thread order.
#pragma once

#include "allocproof/registry.hpp"
#include "allocproof/strategy.hpp"
#include "allocproof/workload.hpp"
#include "workloads/support/cross_thread_blocks.hpp"
#include "workloads/support/spsc_ring.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

namespace allocproof::workloads {

struct producer_consumer {
    static constexpr workload_traits traits{
        .name = "producer_consumer",
        .summary = "thread pairs: one allocates and queues 8-1000 B blocks, the other reads and frees them",
        .quick_scale = {.ops_per_thread = 160'000, .working_set = 1'024, .warmup_ops = 16'000},
        .default_scale = {.ops_per_thread = 430'000, .working_set = 1'024, .warmup_ops = 43'000},
        .test_scale = {.ops_per_thread = 4'000, .working_set = 512, .warmup_ops = 400},
        .families = "blocks",
        .claims = "L3-10 R4-3",
    };

    template <class S>
    static constexpr bool accepts = support::serves_cross_thread_blocks<S>;

    struct entry {
        void* block;
        std::uint64_t bytes;
    };

    // One queue and what its consumer needs to know of its producer.
    struct lane {
        explicit lane(std::size_t capacity) : queue(capacity) {}
        support::spsc_ring<entry> queue;
        // The producer's running total of bytes made, published before each push, so that the
        // consumer can say how many bytes are in flight (live_bytes, and every 64 blocks for the
        // peak) without a counter both threads write.
        alignas(64) std::atomic<std::uint64_t> produced_bytes{0};
    };

    template <class S>
    class shared {
    public:
        explicit shared(const workload_params& params) {
            const unsigned lanes_needed = (std::max(1u, params.threads) + 1) / 2;
            for (unsigned p = 0; p < lanes_needed; ++p) {
                lanes.push_back(std::make_unique<lane>(std::max<std::uint64_t>(params.scale.working_set, 1)));
            }
        }

        support::size_classed_blocks<S> blocks;
        std::vector<std::unique_ptr<lane>> lanes;  // lanes[p]: thread 2p -> thread 2p+1
    };

    enum class role { producer, consumer, both };

    template <class S>
    class worker {
    public:
        worker(const workload_params& params, unsigned thread_index, shared<S>& shared)
            : blocks_(shared.blocks),
              lane_(*shared.lanes[thread_index / 2]),
              role_(thread_index % 2 == 1                             ? role::consumer
                    : thread_index + 1 < std::max(1u, params.threads) ? role::producer
                                                                      : role::both),
              random_(thread_seed(params.seed, thread_index)) {}

        worker(const worker&) = delete;
        worker& operator=(const worker&) = delete;

        void operation(std::uint64_t /*index*/) {
            switch (role_) {
                case role::producer:
                    produce();
                    break;
                case role::consumer:
                    consume();
                    break;
                case role::both:
                    if (lane_.queue.full()) consume();
                    produce();
                    break;
            }
        }

        std::uint64_t finish() {
            if (role_ == role::both) {
                while (lane_.queue.size() > 0) consume();
            }
            // A consumer has now taken as many blocks as its producer made; anything left over
            // would be a block never freed, or one freed twice.
            if (role_ == role::consumer && lane_.queue.size() != 0) {
                throw std::logic_error("producer_consumer: blocks left in a queue");
            }
            return digest_;
        }

        std::size_t live_bytes() const {
            switch (role_) {
                case role::producer:
                    return 0;  // its blocks are counted by their consumer
                case role::consumer:
                    return lane_.produced_bytes.load(std::memory_order_relaxed) - consumed_bytes_;
                case role::both:
                    break;
            }
            return produced_bytes_ - consumed_bytes_;
        }

        // The most bytes in flight in this thread's queue: exact when one thread plays both roles;
        // for a pair, read by the consumer every 64 blocks (a read per block would pull the
        // producer's counter line across cores each time). The producer reports 0.
        std::size_t live_bytes_peak() const { return live_bytes_peak_; }

    private:
        void produce() {
            const std::size_t bytes = support::random_block_bytes(random_);
            void* block = blocks_.allocate(bytes);
            support::fill(block, bytes, random_.next());
            produced_bytes_ += bytes;
            if (role_ == role::producer) {
                lane_.produced_bytes.store(produced_bytes_, std::memory_order_relaxed);
            } else {
                live_bytes_peak_ = std::max(live_bytes_peak_, produced_bytes_ - consumed_bytes_);
            }
            lane_.queue.push({block, bytes});
        }

        void consume() {
            const entry e = lane_.queue.pop();
            if (role_ == role::consumer && (++consumed_ & 63) == 0) {
                live_bytes_peak_ = std::max(live_bytes_peak_, live_bytes());
            }
            digest_ = digest_fold(digest_, support::read_back(e.block, e.bytes));
            blocks_.deallocate(e.block, e.bytes);
            consumed_bytes_ += e.bytes;
        }

        support::size_classed_blocks<S>& blocks_;
        lane& lane_;
        const role role_;
        split_mix random_;
        std::uint64_t produced_bytes_ = 0;
        std::uint64_t consumed_bytes_ = 0;
        std::uint64_t consumed_ = 0;
        std::uint64_t digest_ = 0;
        std::size_t live_bytes_peak_ = 0;
    };
};

}  // namespace allocproof::workloads

ALLOCPROOF_REGISTER_WORKLOAD(allocproof::workloads::producer_consumer)
