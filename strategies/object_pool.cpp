// object_pool — single-thread typed object pool (strategies/object_pool.hpp): release() resets the
// object (T::reset()) and keeps it, up to max_pooled; acquire() hands back the last one kept.
//
// Contract: object_pool family only. NOT thread-safe (one pool per thread, no lock at all);
// objects are single `new T()` allocations from the global allocator, aligned as alignof(T);
// past max_pooled, released objects are deleted; pooled objects are poisoned under ASan.
// Reuse statistics (acquires, reuses, creations, discards, pooled, peak) are exact and always on.
//
// Models seed 003 (Lightning DB ObjectPool<T> with reset and PoolGuard, claim L3-3), seed 004
// (Rust Logic Graph ContextPool with max_pooled and reuse_rate, claims R4-1, R4-2) and seed 000
// (Mojo-Grizzly TablePool, claim G0-1). object_pool_shared is the same pool behind a mutex.
//
// Measurement traps: what pooling saves is a malloc/free pair plus construction, and costs a
// reset per release; on a small object whose reset is a store (the micro suite's record) that is
// nearly pure allocator cost, and tcmalloc/mimalloc thread caches make that cost small. The gain
// also depends on the pool being large enough for the live set (objects_many with max_pooled =
// count reuses everything; a smaller max_pooled discards the surplus on every round).
#include "harness/register.hpp"
#include "allocproof/strategy.hpp"
#include "strategies/object_pool.hpp"

namespace allocproof::strategies {

class object_pool_strategy {
public:
    static constexpr strategy_traits traits{
        .name = "object_pool",
        .summary = "single-thread typed pool: reset on release, LIFO reuse, max_pooled, stats",
        .origin = "seed 003 (Lightning DB ObjectPool); seed 004 (ContextPool); seed 000 (TablePool)",
        .provides_blocks = false,
        .provides_object_pool = true,
        .thread_safe = false,
    };

    template <class T>
    using object_pool = ::allocproof::object_pool<T>;
};

}  // namespace allocproof::strategies

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::object_pool_strategy)
