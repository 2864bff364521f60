// mutex_pool — the reference the seeds' thread-safe pools are compared with: fixed_pool's free
// list behind one std::mutex, taken on every allocate and every deallocate.
//
// Contract: one block size per instance; frees individually; thread-safe, with cross-thread
// frees (every block goes back to the one shared free list); any power-of-two alignment up to
// 4096; chunks from ::operator new, freed when the pool is destroyed.
//
// Models: seed 001's ThreadSafeMemoryPool, "acquire_lock(); thread-safe allocation logic;
// release_lock()" around every allocation (its lock is a spin lock; std::mutex spins briefly in
// glibc, then sleeps). It is the baseline that fixed_pool_mt must beat to support P1-4 and
// L3-10.
//
// Measurement traps: single-threaded, an uncontended lock and unlock are two atomic
// read-modify-writes per call, so one_live measures them, not the pool. With two threads the
// lock's cache line bounces between cores on every call, and a waiting thread may sleep in the
// kernel: 2t_own and 2t_cross figures depend on where the host places the two vCPUs.
#include "harness/register.hpp"
#include "allocproof/strategy.hpp"
#include "strategies/fixed_pool.hpp"

#include <mutex>

namespace allocproof::strategies {

class mutex_pool {
public:
    static constexpr strategy_traits traits{
        .name = "mutex_pool",
        .summary = "fixed_pool behind one std::mutex (reference for thread-safe pools)",
        .origin = "reference: a mutex-protected free list (seed 001 ThreadSafeMemoryPool)",
        .frees_individually = true,
        .thread_safe = true,
        .cross_thread_free = true,
        .fixed_size = true,
        .may_refuse = false,
        .max_alignment = 4096,
    };

    explicit mutex_pool(const block_spec& spec, const fixed_pool_options& options = {}) : pool_(spec, options) {}

    void* allocate(std::size_t bytes) {
        std::lock_guard lock(mutex_);
        return pool_.allocate(bytes);
    }

    void deallocate(void* block, std::size_t bytes) {
        std::lock_guard lock(mutex_);
        pool_.deallocate(block, bytes);
    }

private:
    std::mutex mutex_;
    basic_fixed_pool<false> pool_;
};

}  // namespace allocproof::strategies

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::mutex_pool)
