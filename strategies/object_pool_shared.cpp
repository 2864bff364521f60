// object_pool_shared — the typed object pool of strategies/object_pool.hpp shared by threads: the
// list of pooled objects and the statistics behind one std::mutex.
//
// Contract: object_pool family only. Thread-safe: any thread may acquire and release, and an
// object may be released by another thread than the one that acquired it. Construction (new T),
// reset and deletion run outside the lock; the critical section is a vector push or pop and the
// counters. Memory, limits, poisoning and statistics as object_pool.
//
// Models seed 004 (Rust Logic Graph): one ContextPool shared by threads through an Arc ("Pool per
// Thread ... let pool = Arc::new(ContextPool::new())"), whose own guide warns of "Pool contention
// (too many threads)" (claim R4-3); and seed 003's global pools (VEC_BUFFER_POOL ...), one per
// process (claims L3-3, L3-10).
//
// Measurement traps: single-threaded, this pays an uncontended lock/unlock pair on each acquire
// and release (about what a glibc tcache malloc costs), so it can lose to `std` at one thread;
// under contention all threads serialise on one cache line, which is the point of claim R4-3.
#include "harness/register.hpp"
#include "allocproof/strategy.hpp"
#include "strategies/object_pool.hpp"

namespace allocproof::strategies {

class object_pool_shared {
public:
    static constexpr strategy_traits traits{
        .name = "object_pool_shared",
        .summary = "typed pool shared by threads: object_pool behind one std::mutex",
        .origin = "seed 004 (Rust Logic Graph ContextPool in an Arc); seed 003 (global pools)",
        .provides_blocks = false,
        .provides_object_pool = true,
        .thread_safe = true,
        .cross_thread_free = true,
    };

    template <class T>
    using object_pool = ::allocproof::shared_object_pool<T>;
};

}  // namespace allocproof::strategies

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::object_pool_shared)
