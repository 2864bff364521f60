// larson — a server's heap after Larson & Krishnan's multi-threaded allocator benchmark: worker
// threads replace objects of random size (8-1000 B) in arrays of slots, and the objects a thread
// leaves behind are inherited and freed by another thread.
//
// Models: a connection-serving process whose requests allocate variable-size objects that outlive
// the request and are released later by whichever thread handles the connection next. Every
// thread frees a steady share of blocks it did not allocate, which is what defeats allocators
// (and pools) that assume a block returns to the thread that took it, and what lets memory
// migrate between thread caches. L3-10 (contention with many threads, shared pools against
// per-thread caches) and, indirectly, R4-3 (a shared pool under contention) read from it.
// Does not model: threads that exit and are replaced (the original creates a new thread per
// round; here the same threads trade slot arrays, so thread start-up cost is not measured),
// request parsing or any work between allocations, or sizes above 1000 B.
//
// Each thread starts with working_set slots, each holding a block it allocated and wrote. An
// operation picks a slot at random, reads the block there back into the digest, frees it, and
// allocates, writes and stores a new block of random size. Every 4 x working_set operations
// (warm-up included, so the meetings line up on every thread) all threads meet at a barrier and
// thread t takes over the slot array of thread (t - 1) mod T: about a quarter of the frees in
// each round are of blocks another thread allocated (1 - e^-4 of the inherited blocks are freed
// in the round, one free per operation). At one thread the array comes back to its own thread
// and no free crosses threads.
//
// Determinism: which array a thread holds in each round, and which slots it touches, follow from
// the seed alone; a thread reads a block only after the barrier that handed it over, so each
// thread's digest is the same whatever the timing, and the runner combines them in thread order.
// The barrier blocks (std::barrier), it does not spin: 8 threads share 2 cores. Its wait is part
// of the measured time, as a server's hand-over would be: one meeting per 4 x working_set
// operations (at the default scale, 23 per cell).
#pragma once

#include "allocproof/registry.hpp"
#include "allocproof/strategy.hpp"
#include "allocproof/workload.hpp"
#include "workloads/support/cross_thread_blocks.hpp"

#include <algorithm>
#include <barrier>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace allocproof::workloads {

struct larson {
    static constexpr workload_traits traits{
        .name = "larson",
        .summary = "server threads replace 8-1000 B objects in slots and inherit each other's slots",
        .quick_scale = {.ops_per_thread = 120'000, .working_set = 4'000, .warmup_ops = 12'000},
        .default_scale = {.ops_per_thread = 340'000, .working_set = 4'000, .warmup_ops = 34'000},
        .test_scale = {.ops_per_thread = 4'000, .working_set = 256, .warmup_ops = 400},
        .families = "blocks",
        .claims = "L3-10 R4-3",
    };

    template <class S>
    static constexpr bool accepts = support::serves_cross_thread_blocks<S>;

    struct slot {
        void* block = nullptr;
        std::uint32_t bytes = 0;
    };

    // One thread's slots; its own cache line, as the arrays of neighbouring threads are written
    // at the same time.
    struct alignas(64) slot_array {
        std::vector<slot> slots;
        std::size_t bytes = 0;  // held by the blocks in `slots`
    };

    template <class S>
    class shared {
    public:
        explicit shared(const workload_params& params)
            : threads(std::max(1u, params.threads)),
              handoff_every(4 * std::max<std::uint64_t>(params.scale.working_set, 1)),
              meet(threads),
              arrays(threads) {
            for (auto& array : arrays) {
                array.slots.resize(std::max<std::uint64_t>(params.scale.working_set, 1));
            }
        }

        const unsigned threads;
        const std::uint64_t handoff_every;
        support::size_classed_blocks<S> blocks;
        std::barrier<> meet;
        std::vector<slot_array> arrays;  // arrays[a] is held by thread (a + round) mod threads
    };

    template <class S>
    class worker {
    public:
        worker(const workload_params& params, unsigned thread_index, shared<S>& shared)
            : shared_(shared),
              index_(thread_index),
              random_(thread_seed(params.seed, thread_index)),
              until_handoff_(shared.handoff_every + 1) {
            slot_array& mine = held();
            for (std::size_t i = 0; i < mine.slots.size(); ++i) {
                place(mine, i);
            }
        }

        worker(const worker&) = delete;
        worker& operator=(const worker&) = delete;

        // The runner numbers operations from 0 through warm-up and measurement alike, so a
        // countdown meets the others before operations R, 2R, ... without a division per call.
        void operation(std::uint64_t /*index*/) {
            if (--until_handoff_ == 0) [[unlikely]] {
                shared_.meet.arrive_and_wait();
                ++round_;
                until_handoff_ = shared_.handoff_every;
            }
            slot_array& array = held();
            const std::size_t at = random_.below(array.slots.size());
            retire(array, at);
            place(array, at);
        }

        // After the runner's last barrier: each thread empties the array it holds, and the
        // arrays held are a permutation of all arrays, so every block is freed exactly once.
        std::uint64_t finish() {
            slot_array& array = held();
            for (std::size_t i = 0; i < array.slots.size(); ++i) {
                retire(array, i);
            }
            return digest_;
        }

        std::size_t live_bytes() const { return held().bytes; }
        std::size_t live_bytes_peak() const { return live_bytes_peak_; }

    private:
        slot_array& held() const {
            const unsigned threads = shared_.threads;
            return shared_.arrays[(index_ + threads - round_ % threads) % threads];
        }

        void place(slot_array& array, std::size_t at) {
            const std::size_t bytes = support::random_block_bytes(random_);
            void* block = shared_.blocks.allocate(bytes);
            support::fill(block, bytes, random_.next());
            array.slots[at] = {block, static_cast<std::uint32_t>(bytes)};
            array.bytes += bytes;
            live_bytes_peak_ = std::max(live_bytes_peak_, array.bytes);
        }

        void retire(slot_array& array, std::size_t at) {
            slot& s = array.slots[at];
            digest_ = digest_fold(digest_, support::read_back(s.block, s.bytes) ^ at);
            shared_.blocks.deallocate(s.block, s.bytes);
            array.bytes -= s.bytes;
            s = {};
        }

        shared<S>& shared_;
        const unsigned index_;
        split_mix random_;
        std::uint64_t round_ = 0;
        std::uint64_t until_handoff_;
        std::uint64_t digest_ = 0;
        std::size_t live_bytes_peak_ = 0;
    };
};

}  // namespace allocproof::workloads

ALLOCPROOF_REGISTER_WORKLOAD(allocproof::workloads::larson)
