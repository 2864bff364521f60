// Strategies that look cheap inside the measured phase by moving their work where the cell's
// clock and counters do not look. None of them is wrong: their cells stay `ok`, and the figures
// that show the moved work are the record's setup_ns and teardown_ns, rss_unexplained_bytes and
// process_cpu_ns beside cpu_ns (cell.hpp).
//
//   stocks_in_constructor  takes and touches every block it will hand out in its constructor
//                          (before the clock starts) and wipes and frees them in its destructor
//                          (after it stops): inside the phase, a pop and a push, "0 allocator
//                          calls per op"
//   maps_its_own           bumps through memory it maps itself, pre-faulted, in 16 MiB chunks,
//                          reusing freed blocks but giving no memory back before it is destroyed:
//                          no operator new at all
//   helper_thread          a thread of its own makes the blocks and frees the returned ones,
//                          polling every instance's rings: the allocator calls, and the CPU spent
//                          waiting for them, are that thread's, not the workers'
// Each reuses a freed block at once, as the contract asks of a strategy that frees individually
// (the conformance checks would refuse it otherwise).
#include "allocproof/plugin.hpp"
#include "tests/plugins/faulty/registrations.hpp"
#include "workloads/support/spsc_ring.hpp"
#include "workloads/embeddings.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <thread>
#include <utility>
#include <vector>

namespace faulty {
namespace {

using allocproof::block_spec;
using allocproof::strategy_traits;

constexpr strategy_traits outside_traits(std::string_view name, std::string_view summary) {
    return {.name = name, .summary = summary, .origin = "tests/plugins/faulty/outside_the_clock.cpp"};
}

class stocks_in_constructor {
public:
    static constexpr strategy_traits traits = outside_traits(
        "stocks_in_constructor", "allocates its blocks in its constructor, wipes and frees them in its destructor");
    static constexpr std::size_t stock = 2048;

    explicit stocks_in_constructor(const block_spec& spec) : block_bytes_(spec.size) {
        owned_.reserve(stock);
        for (std::size_t i = 0; i < stock; ++i) {
            // Touched, so that the page faults are paid before the clock starts too.
            owned_.push_back(std::memset(::operator new(block_bytes_), 0, block_bytes_));
        }
        free_ = owned_;
    }
    ~stocks_in_constructor() {
        for (void* block : owned_) {
            // Nothing of the data outlives the pool (volatile: the wipe is not dropped before the free).
            std::fill_n(static_cast<volatile unsigned char*>(block), block_bytes_, 0);
            ::operator delete(block, block_bytes_);
        }
    }
    stocks_in_constructor(const stocks_in_constructor&) = delete;
    stocks_in_constructor& operator=(const stocks_in_constructor&) = delete;

    void* allocate(std::size_t bytes) {
        if (bytes > block_bytes_) return ::operator new(bytes);
        if (free_.empty()) free_.push_back(owned_.emplace_back(::operator new(block_bytes_)));
        void* block = free_.back();
        free_.pop_back();
        return block;
    }
    void deallocate(void* block, std::size_t bytes) {
        if (bytes > block_bytes_) return ::operator delete(block, bytes);
        free_.push_back(block);
    }

private:
    std::size_t block_bytes_;
    std::vector<void*> owned_;
    std::vector<void*> free_;
};

class maps_its_own {
public:
    static constexpr strategy_traits traits =
        outside_traits("maps_its_own", "bumps through memory it maps itself; gives none back");
    static constexpr std::size_t chunk_bytes = std::size_t{16} << 20;

    explicit maps_its_own(const block_spec&) {}
    ~maps_its_own() {
        for (void* chunk : chunks_) ::munmap(chunk, chunk_bytes);
    }
    maps_its_own(const maps_its_own&) = delete;
    maps_its_own& operator=(const maps_its_own&) = delete;

    void* allocate(std::size_t bytes) {
        const std::size_t rounded = slot_bytes(bytes);
        if (rounded > chunk_bytes) throw std::bad_alloc();
        if (auto found = free_.find(rounded); found != free_.end() && !found->second.empty()) {
            void* block = found->second.back();
            found->second.pop_back();
            return block;
        }
        if (chunks_.empty() || used_ + rounded > chunk_bytes) {
            void* chunk =
                ::mmap(nullptr, chunk_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
            if (chunk == MAP_FAILED) throw std::bad_alloc();
            chunks_.push_back(chunk);
            used_ = 0;
        }
        void* block = static_cast<std::byte*>(chunks_.back()) + used_;
        used_ += rounded;
        return block;
    }
    void deallocate(void* block, std::size_t bytes) { free_[slot_bytes(bytes)].push_back(block); }

private:
    static std::size_t slot_bytes(std::size_t bytes) { return (bytes + 63) / 64 * 64; }

    std::map<std::size_t, std::vector<void*>> free_;  // by slot size
    std::vector<void*> chunks_;
    std::size_t used_ = 0;
};

// A ring with one producer thread and one consumer thread, of 64 blocks.
using block_ring = allocproof::workloads::support::spsc_ring<void*>;
constexpr std::size_t ring_blocks = 64;

class helper_thread {
public:
    static constexpr strategy_traits traits =
        outside_traits("helper_thread", "a thread of its own allocates and frees its blocks");

    explicit helper_thread(const block_spec& spec) : block_bytes_(spec.size) { helper::instance().add(this); }
    ~helper_thread() {
        helper::instance().remove(this);
        if (last_freed_ != nullptr) ::operator delete(last_freed_, block_bytes_);
        void* block;
        while (ready_.try_pop(block)) ::operator delete(block, block_bytes_);
        while (returned_.try_pop(block)) ::operator delete(block, block_bytes_);
    }
    helper_thread(const helper_thread&) = delete;
    helper_thread& operator=(const helper_thread&) = delete;

    void* allocate(std::size_t bytes) {
        if (bytes > block_bytes_) return ::operator new(bytes);
        if (void* block = std::exchange(last_freed_, nullptr)) return block;
        return ready_.pop();  // waits for the helper
    }
    void deallocate(void* block, std::size_t bytes) {
        if (bytes <= block_bytes_ && last_freed_ == nullptr) {
            last_freed_ = block;
        } else if (bytes > block_bytes_ || !returned_.try_push(block)) {
            ::operator delete(block, bytes);
        }
    }

private:
    // One thread for every instance of the process, started with the first and joined with the last.
    class helper {
    public:
        static helper& instance() {
            static helper the_helper;
            return the_helper;
        }
        void add(helper_thread* strategy) {
            std::lock_guard lock(mutex_);
            strategies_.push_back(strategy);
            if (!thread_.joinable()) {
                stop_.store(false);
                thread_ = std::thread([this] { serve(); });
            }
        }
        void remove(helper_thread* strategy) {
            std::thread finished;
            {
                std::lock_guard lock(mutex_);
                std::erase(strategies_, strategy);
                if (strategies_.empty()) {
                    stop_.store(true);
                    finished = std::move(thread_);
                }
            }
            if (finished.joinable()) finished.join();
        }

    private:
        void serve() {
            while (!stop_.load()) {
                {
                    std::lock_guard lock(mutex_);
                    for (helper_thread* strategy : strategies_) strategy->restock();
                }
            }
        }
        std::mutex mutex_;
        std::vector<helper_thread*> strategies_;
        std::thread thread_;
        std::atomic<bool> stop_{false};
    };

    void restock() {
        void* block;
        while (returned_.try_pop(block)) ::operator delete(block, block_bytes_);
        while (!ready_.full()) ready_.push(::operator new(block_bytes_));
    }

    std::size_t block_bytes_;
    void* last_freed_ = nullptr;        // handed out again first
    block_ring ready_{ring_blocks};     // the helper produces, the worker consumes
    block_ring returned_{ring_blocks};  // the worker produces, the helper consumes
};

const registers outside_the_clock_cells{[] {
    using embeddings = allocproof::type_list<allocproof::workloads::embeddings>;
    allocproof::register_strategy_cells<stocks_in_constructor>(embeddings{});
    allocproof::register_strategy_cells<maps_its_own>(embeddings{});
    allocproof::register_strategy_cells<helper_thread>(embeddings{});
}};

}  // namespace
}  // namespace faulty
