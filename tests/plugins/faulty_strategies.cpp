// Strategies that misbehave on purpose, as a plugin: the tests run them through the driver
// (tests/test_plugins.cpp) and check that each fault is recorded with its reason while every
// other cell is kept. Each serves node_churn only, whose digest covers every node's contents.
//
// The faults start at the trigger_at-th allocation of the process, past the setup of the cell,
// so that the cell is measuring when it goes wrong.
#include "allocproof/plugin.hpp"
#include "tests/plugins/faulty/registrations.hpp"
#include "workloads/node_churn.hpp"

#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <thread>
#include <vector>

namespace faulty {

using allocproof::block_spec;
using allocproof::strategy_traits;

constexpr std::uint64_t trigger_at = 2000;

// Counts allocations over the process; true from the trigger_at-th on.
inline bool triggered() {
    static std::atomic<std::uint64_t> allocations{0};
    return allocations.fetch_add(1, std::memory_order_relaxed) + 1 >= trigger_at;
}

constexpr strategy_traits traits_named(std::string_view name, std::string_view summary) {
    return {.name = name, .summary = summary, .origin = "tests/plugins/faulty_strategies.cpp"};
}

// The global heap, with a fault that strikes before each allocation past the trigger. The fault
// names the strategy.
template <class Fault>
class heap_with {
public:
    static constexpr strategy_traits traits = traits_named(Fault::name, Fault::summary);
    explicit heap_with(const block_spec&) {}
    void* allocate(std::size_t bytes) {
        if (triggered()) Fault::act();
        return ::operator new(bytes);
    }
    void deallocate(void* block, std::size_t bytes) { ::operator delete(block, bytes); }
};

// A write to a page mapped without access: a real SIGSEGV, which no sanitizer check intercepts
// first (a null store would be UndefinedBehaviorSanitizer's report instead).
struct segfault {
    static constexpr std::string_view name = "crashes", summary = "writes to an inaccessible page (SIGSEGV)";
    static void act() {
        void* page = ::mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        *static_cast<volatile int*>(page) = 1;
    }
};
struct hang {
    static constexpr std::string_view name = "hangs", summary = "never returns from allocate";
    [[noreturn]] static void act() {
        for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
};
struct abort_now {
    static constexpr std::string_view name = "aborts", summary = "calls std::abort";
    [[noreturn]] static void act() { std::abort(); }
};
struct throw_error {
    static constexpr std::string_view name = "throws", summary = "throws std::runtime_error";
    [[noreturn]] static void act() { throw std::runtime_error("the throwing strategy gave up"); }
};

// Ends the cell program with something on its standard output that is not a cell record.
struct babble {
    static constexpr std::string_view name = "babbles", summary = "prints garbage and exits 0";
    [[noreturn]] static void act() {
        std::fputs("this is not JSON {\n", stdout);
        std::fflush(stdout);
        std::_Exit(0);
    }
};

using crashes = heap_with<segfault>;
using hangs = heap_with<hang>;
using aborts = heap_with<abort_now>;
using throws = heap_with<throw_error>;
using babbles = heap_with<babble>;

// Hands out blocks of a ring of 64 slots round-robin, live or not: overlapping memory.
class overlaps {
public:
    static constexpr strategy_traits traits = traits_named("overlaps", "reuses blocks that are still live");
    static constexpr std::size_t slots = 64, slot_bytes = 4096;
    explicit overlaps(const block_spec&) : ring_(slots * slot_bytes) {}
    void* allocate(std::size_t) {
        next_ = (next_ + 1) % slots;
        return ring_.data() + next_ * slot_bytes;
    }
    void deallocate(void*, std::size_t) {}

private:
    std::vector<std::byte> ring_;
    std::size_t next_ = 0;
};

// A bump allocator whose free writes a word one block too far: into its neighbour, often live.
class scribbles {
public:
    static constexpr strategy_traits traits = traits_named("scribbles", "a free overwrites the next block");
    explicit scribbles(const block_spec& spec) : block_bytes_((spec.size + 15) / 16 * 16) {}
    ~scribbles() {
        for (void* slab : slabs_) ::operator delete(slab, slab_bytes);
    }
    scribbles(const scribbles&) = delete;
    scribbles& operator=(const scribbles&) = delete;
    void* allocate(std::size_t bytes) {
        if (bytes > block_bytes_) throw std::length_error("scribbles: block too large");
        if (slabs_.empty() || used_ + 2 * block_bytes_ > slab_bytes) {
            slabs_.push_back(::operator new(slab_bytes));
            used_ = 0;
        }
        void* block = static_cast<std::byte*>(slabs_.back()) + used_;
        used_ += block_bytes_;
        return block;
    }
    void deallocate(void* block, std::size_t) {
        const std::uint64_t poison = 0xDEADBEEFDEADBEEFULL;
        std::memcpy(static_cast<std::byte*>(block) + block_bytes_, &poison, sizeof poison);
    }

private:
    static constexpr std::size_t slab_bytes = 1 << 20;
    std::size_t block_bytes_;
    std::vector<void*> slabs_;
    std::size_t used_ = 0;
};

// Never gives a block back.
class leaks {
public:
    static constexpr strategy_traits traits = traits_named("leaks", "deallocate forgets the block");
    explicit leaks(const block_spec&) {}
    void* allocate(std::size_t bytes) { return ::operator new(bytes); }
    void deallocate(void*, std::size_t) {}
};

// Takes 64 MiB of address space more on every allocation past the trigger, without touching it:
// only a memory limit (run --memory-limit-mib) stops it. Gives up after 64 GiB, so that a run
// without a limit does not take the machine.
class hogs {
public:
    static constexpr strategy_traits traits = traits_named("hogs", "takes memory until refused");
    explicit hogs(const block_spec&) {}
    ~hogs() {
        for (void* block : hoard_) ::operator delete(block, hoard_bytes);
    }
    hogs(const hogs&) = delete;
    hogs& operator=(const hogs&) = delete;
    void* allocate(std::size_t bytes) {
        if (triggered()) {
            if (hoard_.size() >= 1024) std::abort();
            hoard_.push_back(::operator new(hoard_bytes));
        }
        return ::operator new(bytes);
    }
    void deallocate(void* block, std::size_t bytes) { ::operator delete(block, bytes); }

private:
    static constexpr std::size_t hoard_bytes = std::size_t{64} << 20;
    std::vector<void*> hoard_;
};

template <class... S>
void register_with_node_churn() {
    (allocproof::register_strategy_cells<S>(allocproof::type_list<allocproof::workloads::node_churn>{}), ...);
}

const registers crude_faults{
    [] { register_with_node_churn<crashes, hangs, aborts, throws, babbles, overlaps, scribbles, leaks, hogs>(); }};

void register_all() {
    for (registration add : registrations()) add();
}

}  // namespace faulty

ALLOCPROOF_PLUGIN_REGISTERING("faulty strategies", faulty::register_all)
