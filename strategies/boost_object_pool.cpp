// boost_object_pool — the peer of object_pool: boost::object_pool<T> from Boost.Pool 1.74
// (header-only), through its public construct() / destroy().
//
// Contract: object_pool family only. NOT thread-safe. acquire() is construct(): a chunk from the
// pool's segregated storage and a value-initialised T built in it (so every object is "new",
// hence in its reset state); release() is destroy(): ~T and the chunk back to the pool's free
// list. Chunks come in blocks from Boost's default_user_allocator_new_delete (global operator
// new[]), 32 chunks first, doubling, and are returned only when the pool is destroyed. Alignment
// is what Boost.Pool gives chunks of sizeof(T): enough for ordinary T, not for over-aligned T.
// max_pooled has no counterpart in Boost and is ignored: the pool keeps every chunk it ever
// allocated. The chunks it holds are not poisoned (Boost writes its free-list links into them
// and we do not reach into its internals), so ASan cannot catch a use after release here.
//
// Models the same seed texts as object_pool (seed 003 ObjectPool, seed 004 ContextPool, seed 000
// TablePool) with the pool most C++ code would reach for first.
//
// Measurement traps — this is a pathology the micro suite must show, not work around:
// destroy() calls ordered_free(), which walks the free list from its head to insert the chunk in
// address order: O(free chunks) per release. Released in random order (objects_many), n objects
// cost O(n^2): at 10,000 objects a release walks thousands of links. Boost keeps the list in
// order so that ~object_pool can tell live chunks from free ones in one pass; its plain
// boost::pool<>::free() is O(1) and unordered, but object_pool offers no such path (its own
// free() is ordered too). construct() is O(1).
#include "harness/register.hpp"
#include "allocproof/strategy.hpp"

#include <boost/pool/object_pool.hpp>

#include <cstddef>
#include <new>

namespace allocproof::strategies {

class boost_object_pool {
public:
    static constexpr strategy_traits traits{
        .name = "boost_object_pool",
        .summary = "boost::object_pool<T>: construct()/destroy(), destroy is O(free list)",
        .origin = "Boost.Pool 1.74",
        .provides_blocks = false,
        .provides_object_pool = true,
        .thread_safe = false,
    };

    template <class T>
    class object_pool {
    public:
        explicit object_pool(std::size_t /*max_pooled: no counterpart*/) {}

        T* acquire() {
            T* object = pool_.construct();
            if (object == nullptr) [[unlikely]]
                throw std::bad_alloc();  // Boost returns 0
            return object;
        }
        void release(T* object) { pool_.destroy(object); }

    private:
        boost::object_pool<T> pool_;
    };
};

}  // namespace allocproof::strategies

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::boost_object_pool)
