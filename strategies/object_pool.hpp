// allocproof::object_pool<T, Mutex> — a typed pool of whole constructed objects: release() resets
// an object (T::reset(), when T has one) and keeps it for the next acquire(), up to a maximum
// number kept; past it, released objects are deleted.
//
// Models three seeds' pools, which are the same design:
//   * seed 003 (Lightning DB) ObjectPool<T>: "Generic ObjectPool<T> with automatic reset
//     functionality ... RAII PoolGuard<T> for automatic return to pool ... Capacity management to
//     prevent excessive memory growth" (claim L3-3);
//   * seed 004 (Rust Logic Graph) ContextPool: max_pooled, stats total_acquired / reused /
//     created / current and peak pool size, reuse_rate() (claims R4-1, R4-2, R4-3);
//   * seed 000 (Mojo-Grizzly) TablePool: "acquire retrieves pooled tables or creates new, release
//     returns tables to pool for reuse" (claim G0-1).
//
// Contract:
//   * acquire() returns an object in its reset state: a pooled one (reset on release) or a new
//     value-initialised T (new T()); release(p) takes back any object this pool handed out;
//   * objects come from global operator new, one allocation each, aligned as alignof(T), and go
//     back to it when discarded or when the pool is destroyed (objects still out at that point
//     belong to their holders, who must delete them or release them before);
//   * the pool holds at most max_pooled objects; the pooled pointers live in a vector reserved up
//     front (up to 4096), so release() does not allocate in steady state;
//   * Mutex = null_mutex: one thread at a time; Mutex = std::mutex (shared_object_pool): any
//     thread may acquire and release, an object may be released by another thread than its
//     acquirer. The lock covers only the pointer list and the counters: construction, reset and
//     deletion run outside it;
//   * pooled objects are poisoned (strategies/poison.hpp), so under AddressSanitizer a use of an
//     object after its release is caught.
//
// Measurement traps: the pool hands back the most recently released object (LIFO), which is the
// one most likely still in cache; a pool that is full still resets what it then deletes (the
// reset runs before the lock, to keep the critical section short); the statistics are always on
// (four counter updates per acquire/release pair, under the lock in the shared form).
#pragma once

#include "strategies/poison.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

namespace allocproof {

// The single-thread form's lock: nothing, so the shared form and it are one piece of code.
struct null_mutex {
    void lock() noexcept {}
    void unlock() noexcept {}
};

struct object_pool_stats {
    std::uint64_t acquires = 0;   // acquire() calls
    std::uint64_t reuses = 0;     // ... served with a pooled object
    std::uint64_t creations = 0;  // ... served with a new T
    std::uint64_t discards = 0;   // release() calls that deleted the object: the pool was full
    std::size_t pooled = 0;       // objects held now
    std::size_t peak_pooled = 0;  // most objects held at once

    // Share of acquires served from the pool, in [0, 1] (seed 004 reports it as a percentage).
    double reuse_rate() const {
        return acquires == 0 ? 0.0 : static_cast<double>(reuses) / static_cast<double>(acquires);
    }
};

template <class T>
concept has_reset = requires(T& object) {
    object.reset();
};

// RAII: holds one object acquired from a pool and releases it when it goes out of scope (seed
// 003's PoolGuard<T>).
template <class Pool>
class pool_guard {
public:
    using value_type = typename Pool::value_type;

    explicit pool_guard(Pool& pool) : pool_(&pool), object_(pool.acquire()) {}
    pool_guard(pool_guard&& other) noexcept : pool_(other.pool_), object_(std::exchange(other.object_, nullptr)) {}
    pool_guard& operator=(pool_guard&& other) noexcept {
        if (this != &other) {
            give_back();
            pool_ = other.pool_;
            object_ = std::exchange(other.object_, nullptr);
        }
        return *this;
    }
    pool_guard(const pool_guard&) = delete;
    pool_guard& operator=(const pool_guard&) = delete;
    ~pool_guard() { give_back(); }

    value_type* get() const noexcept { return object_; }
    value_type& operator*() const noexcept { return *object_; }
    value_type* operator->() const noexcept { return object_; }
    explicit operator bool() const noexcept { return object_ != nullptr; }

    // Releases the object to the pool now; the guard is empty afterwards.
    void give_back() {
        if (object_ != nullptr) pool_->release(std::exchange(object_, nullptr));
    }
    // Keeps the object out of the pool: the caller now owns it (and may release it later).
    [[nodiscard]] value_type* detach() noexcept { return std::exchange(object_, nullptr); }

private:
    Pool* pool_;
    value_type* object_;
};

template <class T, class Mutex = null_mutex>
class object_pool {
public:
    using value_type = T;
    using guard = pool_guard<object_pool>;

    explicit object_pool(std::size_t max_pooled) : max_pooled_(max_pooled) {
        pooled_.reserve(std::min(max_pooled, initial_reserve));
    }
    object_pool(const object_pool&) = delete;
    object_pool& operator=(const object_pool&) = delete;

    ~object_pool() {
        for (T* object : pooled_) {
            unpoison_memory(object, sizeof(T));
            delete object;
        }
    }

    T* acquire() {
        {
            std::lock_guard lock(mutex_);
            ++stats_.acquires;
            if (!pooled_.empty()) [[likely]] {
                T* object = pooled_.back();
                pooled_.pop_back();
                ++stats_.reuses;
                unpoison_memory(object, sizeof(T));
                return object;
            }
            ++stats_.creations;
        }
        return create();
    }

    void release(T* object) {
        if (object == nullptr) return;
        if constexpr (has_reset<T>) object->reset();
        {
            std::lock_guard lock(mutex_);
            if (pooled_.size() < max_pooled_ && keep(object)) return;
            ++stats_.discards;
        }
        delete object;
    }

    guard acquire_guard() { return guard(*this); }

    object_pool_stats stats() const {
        std::lock_guard lock(mutex_);
        object_pool_stats copy = stats_;
        copy.pooled = pooled_.size();
        return copy;
    }

    std::size_t max_pooled() const noexcept { return max_pooled_; }

private:
    static constexpr std::size_t initial_reserve = 4096;

    // Outside the lock: a constructor may be slow, and may throw.
    [[gnu::noinline]] T* create() {
        try {
            return new T();
        } catch (...) {
            std::lock_guard lock(mutex_);
            --stats_.acquires;
            --stats_.creations;
            throw;
        }
    }

    // Under the lock. False when the pointer list could not grow (out of memory): discard.
    bool keep(T* object) noexcept {
        try {
            pooled_.push_back(object);
        } catch (...) {
            return false;
        }
        poison_memory(object, sizeof(T));
        stats_.peak_pooled = std::max(stats_.peak_pooled, pooled_.size());
        return true;
    }

    const std::size_t max_pooled_;
    std::vector<T*> pooled_;
    object_pool_stats stats_;
    mutable Mutex mutex_;
};

// The shared form: one pool for every thread, a mutex around its list (seed 004's ContextPool
// shared through an Arc, seed 003's global pools).
template <class T>
using shared_object_pool = object_pool<T, std::mutex>;

}  // namespace allocproof
