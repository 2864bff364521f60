// A small index per live thread, for strategies that keep per-thread state inside an instance
// (an array of slots indexed by it) instead of in a thread_local per instance, which C++ cannot
// express.
//
// thread_index::current() is one thread-local load: the index of the calling thread, or a value
// no slot array reaches (>= every realistic slot count) when the thread has none yet
// (`unassigned`: call assign()) or is exiting (`retired`). assign() hands out the lowest index
// no live thread holds, so indices stay small and dense; a thread's index returns to the pool
// when the thread exits, and the next new thread gets it — together with whatever that index's
// slots hold in every instance (state left behind by a dead thread is inherited, not lost).
// The hand-over goes through one mutex, which orders the old thread's writes to its slots before
// the new thread's reads.
#pragma once

#include <algorithm>
#include <mutex>
#include <vector>

namespace allocproof::thread_index {

inline constexpr unsigned unassigned = ~0u;
inline constexpr unsigned retired = ~0u - 1;

namespace detail {

// Constant-initialised, so a new thread reads `unassigned` from the TLS image with no
// initialisation code, and the compiler accesses it directly (no TLS wrapper call).
inline constinit thread_local unsigned index = unassigned;

struct free_indices {
    std::mutex mutex;
    std::vector<unsigned> released;
    unsigned next = 0;
};

// Never destroyed: threads may exit (and release their index) during static destruction.
inline free_indices& registry() {
    static free_indices* instance = new free_indices;
    return *instance;
}

struct releaser {
    releaser() = default;
    releaser(const releaser&) = delete;
    releaser& operator=(const releaser&) = delete;
    ~releaser() {
        const unsigned mine = index;
        // Calls made after this (other thread_local destructors freeing blocks) see `retired`
        // and take the strategy's shared path; they never take an index again.
        index = retired;
        free_indices& r = registry();
        std::lock_guard lock(r.mutex);
        r.released.push_back(mine);
    }
};

}  // namespace detail

inline unsigned current() noexcept { return detail::index; }

// The slow path: gives the calling thread its index (or returns `retired` while it exits).
[[gnu::noinline]] inline unsigned assign() {
    if (detail::index != unassigned) return current();
    unsigned chosen;
    {
        detail::free_indices& r = detail::registry();
        std::lock_guard lock(r.mutex);
        if (r.released.empty()) {
            chosen = r.next++;
        } else {
            auto lowest = std::min_element(r.released.begin(), r.released.end());
            chosen = *lowest;
            *lowest = r.released.back();
            r.released.pop_back();
        }
    }
    // Constructed here, on the first pass only; its destructor runs when the thread exits.
    [[maybe_unused]] static thread_local detail::releaser release_at_exit;
    detail::index = chosen;
    return chosen;
}

}  // namespace allocproof::thread_index
