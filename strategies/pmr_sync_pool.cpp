// pmr_sync_pool — std::pmr::synchronized_pool_resource of the libstdc++ the build uses (g++ 12:
// libstdc++ 12), over new_delete_resource(): the standard library's thread-safe pool.
//
// Contract: any block size (pools for 8 B .. 4 KiB, larger blocks from upstream), frees
// individually, thread-safe, cross-thread free, alignment up to alignof(std::max_align_t).
// Memory: chunks from ::operator new, returned when the instance is destroyed.
//
// Cross-thread free, what is guaranteed: the standard ([mem.res.pool.overview]) says a
// synchronized_pool_resource "may be accessed from multiple threads without external
// synchronization", and deallocate(p) only requires that p came from allocate() on a resource equal
// to this one, with no condition on the thread: freeing from another thread is allowed. libstdc++ 12
// (src/c++17/memory_resource.cc) keeps one set of pools per thread, found through a pthread key,
// used under a SHARED lock of one std::shared_mutex per resource:
//   * allocate: shared lock, this thread's pools (the same bitmap pools as pmr_unsync_pool); when
//     the pool needs a new chunk, or on the thread's first call, the EXCLUSIVE lock;
//   * deallocate: shared lock, this thread's pools; a block that is not in them (allocated by
//     another thread) costs the EXCLUSIVE lock and a search through every thread's pools, and goes
//     back to the pool of the thread that allocated it;
//   * when a thread exits, its chunks that still hold live blocks move to a shared list and are
//     never allocated from again (libstdc++'s "orphaned chunks"): freed there, they are held until
//     the resource is released or destroyed;
//   * every instance takes a pthread key (PTHREAD_KEYS_MAX, 1024 on Linux, per process);
//   * blocks above 4 KiB: exclusive lock and the address-sorted vector (see pmr_unsync_pool.cpp).
// So every call is at least a shared-lock round trip (two atomic read-modify-writes on the lock
// word, shared by all threads using the instance) and a pthread_getspecific; every cross-thread
// free is an exclusive lock.
//
// Measurement traps: 2t_cross shows the exclusive-lock path on every free; 2t_own shows the
// shared lock's cache line bouncing between two threads that never touch each other's blocks.
// glibc 2.34+ always reports threads active, so the single-thread shortcut of libstdc++ is never
// taken there.
#include "harness/register.hpp"
#include "allocproof/strategy.hpp"
#include "strategies/pmr_blocks.hpp"

#include <memory_resource>

namespace allocproof::strategies {

class pmr_sync_pool : public pmr_blocks<std::pmr::synchronized_pool_resource> {
public:
    static constexpr strategy_traits traits{
        .name = "pmr_sync_pool",
        .summary = "std::pmr::synchronized_pool_resource over new_delete_resource (thread-safe)",
        .origin = ALLOCPROOF_PMR_ORIGIN("synchronized_pool_resource"),
        .frees_individually = true,
        .thread_safe = true,
        .cross_thread_free = true,
        .fixed_size = false,
    };

    using pmr_blocks::pmr_blocks;
};

}  // namespace allocproof::strategies

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::pmr_sync_pool)
