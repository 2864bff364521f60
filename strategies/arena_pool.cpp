// arena_pool — pooled arenas: the bump arenas of `arena` (strategies/arena.hpp), whose chunks go
// back to one store of free chunks per pool instead of the global allocator, so that after
// warm-up an operation makes no global allocator call at all.
//
// Contract (which calls are thread-safe):
//   * blocks interface — allocate(), deallocate(), reset() on the pool itself: ONE thread at a
//     time (traits.thread_safe = false), as a blocks strategy's instance serves one thread.
//     deallocate() is a no-op (frees_individually = false); reset() ends the operation, giving
//     every chunk of the pool's own arena but the first to the store. Any size; alignment the
//     block_spec's (any power of two; traits promise 64).
//   * acquire(), ending a lease (~lease, lease::end()), thread_arena(), release_thread_arena()
//     and statistics(): thread-safe, concurrently with each other and with the blocks interface
//     on another thread. They take the pool's one mutex, once per call; an arena takes it once per
//     chunk it needs, never per allocation.
//   * an arena obtained from a lease or from thread_arena() is single-thread: a lease's by
//     whoever holds the lease (it may be moved to another thread), a thread arena by its thread
//     only. The thread resets its thread arena between operations; the arena goes back to the
//     pool when the thread exits (a thread_local hook) or calls release_thread_arena().
//   * destroying the pool: no lease may be outstanding and no thread may be using a thread arena
//     of it; threads that still hold one need not exit first (their hook sees the pool is gone).
//     Every chunk then goes back to ::operator delete.
// Memory: chunks from ::operator new (4 KiB doubling to 1 MiB, large requests a chunk of their
// own, as in `arena`), kept in the store by size class up to options.max_free_bytes (64 MiB by
// default; beyond, to ::operator delete). An arena back in the pool keeps its first chunk. The
// arena objects themselves come from ::operator new once and are reused.
//
// Models: seed 002 (Agrama ArenaManager: primitive / search / JSON arenas acquired per operation,
// released to an arena pool for reuse, "automatic cleanup after operation completion"; here the
// lease's destructor is the cleanup) and seed 003 (Lightning DB: ArenaPool "for reusing bump
// allocators across operations", BatchContext, and "thread-local arenas via THREAD_ARENA for hot
// paths": thread_arena()). One pool serves every kind of arena: the seed's kinds differ only by
// name in the code it shows (its per-kind arena sizes are configured but not used), and pooling
// chunks rather than whole arenas lets one operation's chunks serve the next whatever its kind.
// Note that the seed's releaseArena() deinit()s the arena, giving all its memory back to the base
// allocator, so its pool reuses only the arena object; what keeps memory across operations here
// is seed 003's reuse of bump allocators (bumpalo's Bump::reset keeps its current chunk and
// returns the others to the global allocator, per its documentation on docs.rs).
//
// Measurement traps:
//   * The micro suite sees only the blocks interface (batch_10k: 10,000 bumps, then reset());
//     leases and thread arenas cost a mutex per acquire and per end, which only workloads that
//     use them measure.
//   * A store never shrinks below what its largest operations needed (up to max_free_bytes):
//     the saving in allocator calls is paid for in memory held; compare peak RSS, not only time.
//   * chunks_from_global counts the store's own calls into the global allocator; a workload's
//     own allocations are not in it.
#include "strategies/arena_pool.hpp"

#include "harness/register.hpp"

#include <atomic>
#include <cassert>
#include <vector>

namespace allocproof::strategies {

namespace {

std::uint64_t next_serial() {
    static std::atomic<std::uint64_t> serial{0};
    return serial.fetch_add(1, std::memory_order_relaxed) + 1;
}

}  // namespace

// Thread arenas. Each thread keeps a list of (pool, serial, arena) slots; a pool that has handed
// out a thread arena is on a process-wide list. A thread exiting gives its arenas back to the
// pools still on the list; a pool being destroyed leaves the list first. Both happen under
// registry_mutex (lock order: registry_mutex, then a pool's mutex_), so a thread's hook never
// touches a pool whose destruction has begun.
struct arena_pool::thread_registry {
    struct slot {
        arena_pool* pool;
        std::uint64_t serial;
        pooled_arena* arena;
    };

    struct thread_slots {
        std::vector<slot> slots;
        ~thread_slots() {
            std::lock_guard guard(registry_mutex);
            for (const slot& s : slots) {
                if (alive(s)) s.pool->return_arena(s.arena, true);
            }
        }
    };

    // Constant-initialised and trivially destructible: usable by every thread's exit hook,
    // whatever the order of static destruction.
    static inline std::mutex registry_mutex;
    static inline arena_pool* registered = nullptr;
    static inline thread_local thread_slots this_thread;

    static bool alive(const slot& s) {
        for (arena_pool* p = registered; p != nullptr; p = p->next_registered_) {
            if (p == s.pool) return p->serial_ == s.serial;
        }
        return false;
    }

    static arenas::bump_arena& attach(arena_pool& pool, std::vector<slot>& slots) {
        std::lock_guard guard(registry_mutex);
        std::erase_if(slots, [](const slot& s) { return !alive(s); });
        if (!pool.registered_) {
            pool.next_registered_ = registered;
            registered = &pool;
            pool.registered_ = true;
        }
        pooled_arena* arena;
        {
            std::lock_guard pool_guard(pool.mutex_);
            arena = pool.pop_arena_locked();
            ++pool.stats_.thread_arenas;
        }
        slots.push_back({&pool, pool.serial_, arena});
        return arena->arena;
    }

    static void detach(arena_pool& pool) {
        std::lock_guard guard(registry_mutex);
        if (!pool.registered_) return;
        for (arena_pool** link = &registered; *link != nullptr; link = &(*link)->next_registered_) {
            if (*link == &pool) {
                *link = pool.next_registered_;
                break;
            }
        }
        pool.registered_ = false;
    }
};

arena_pool::arena_pool(const block_spec& spec, arenas::arena_pool_options options)
    : options_(options), serial_(next_serial()), alignment_(arenas::checked_alignment(spec.alignment)), own_(this) {}

arena_pool::~arena_pool() {
    thread_registry::detach(*this);
    assert(stats_.leases_out == 0 && "an arena_pool was destroyed with a lease outstanding");
    own_.release();
    while (all_ != nullptr) {
        pooled_arena* next = all_->next_all;
        delete all_;  // its chunks go to the store, freed below
        all_ = next;
    }
    for (arenas::chunk* list : free_) arenas::delete_chunks(list);
    arenas::delete_chunks(huge_);
}

arenas::chunk* arena_pool::take(std::size_t bytes) {
    std::lock_guard guard(mutex_);
    auto pop = [&](arenas::chunk*& list) {
        arenas::chunk* c = list;
        list = c->next;
        c->next = nullptr;
        --stats_.free_chunks;
        stats_.free_bytes -= c->size;
        ++stats_.chunks_reused;
        return c;
    };
    if (bytes <= arenas::max_chunk_size) {
        // A larger free chunk serves a smaller request: the arena uses all of it.
        for (std::size_t k = arenas::chunk_class_at_least(bytes); k < arenas::chunk_classes; ++k) {
            if (free_[k] != nullptr) return pop(free_[k]);
        }
    } else {
        arenas::chunk** best = nullptr;
        for (arenas::chunk** link = &huge_; *link != nullptr; link = &(*link)->next) {
            if ((*link)->size >= bytes && (best == nullptr || (*link)->size < (*best)->size)) best = link;
        }
        if (best != nullptr) return pop(*best);
    }
    // Warm-up only: the global allocator under the lock keeps the counters exact.
    arenas::chunk* c = arenas::new_chunk(bytes);
    ++stats_.chunks_from_global;
    return c;
}

void arena_pool::file_locked(arenas::chunk* chain, arenas::chunk*& overflow) {
    while (chain != nullptr) {
        arenas::chunk* c = chain;
        chain = c->next;
        if (stats_.free_bytes + c->size > options_.max_free_bytes) {
            c->next = overflow;
            overflow = c;
            ++stats_.chunks_to_global;
            continue;
        }
        arenas::chunk*& list = c->size <= arenas::max_chunk_size ? free_[arenas::chunk_class_at_most(c->size)] : huge_;
        c->next = list;
        list = c;
        ++stats_.free_chunks;
        stats_.free_bytes += c->size;
    }
}

void arena_pool::give(arenas::chunk* chain) {
    arenas::chunk* overflow = nullptr;
    {
        std::lock_guard guard(mutex_);
        file_locked(chain, overflow);
    }
    arenas::delete_chunks(overflow);
}

arena_pool::pooled_arena* arena_pool::pop_arena_locked() {
    pooled_arena* arena = idle_;
    if (arena != nullptr) {
        idle_ = arena->next_idle;
        --stats_.arenas_idle;
        return arena;
    }
    arena = new pooled_arena(this);
    arena->next_all = all_;
    all_ = arena;
    ++stats_.arenas_created;
    return arena;
}

void arena_pool::return_arena(pooled_arena* arena, bool thread_arena) {
    arenas::chunk* rest = arena->arena.detach_all_but_first();
    arenas::chunk* overflow = nullptr;
    {
        std::lock_guard guard(mutex_);
        file_locked(rest, overflow);
        arena->next_idle = idle_;
        idle_ = arena;
        ++stats_.arenas_idle;
        --(thread_arena ? stats_.thread_arenas : stats_.leases_out);
    }
    arenas::delete_chunks(overflow);
}

arena_pool::lease arena_pool::acquire() {
    std::lock_guard guard(mutex_);
    pooled_arena* arena = pop_arena_locked();
    ++stats_.leases_out;
    return lease(this, arena);
}

arenas::bump_arena& arena_pool::thread_arena() {
    std::vector<thread_registry::slot>& slots = thread_registry::this_thread.slots;
    for (const auto& s : slots) {
        if (s.pool == this && s.serial == serial_) return s.arena->arena;
    }
    return thread_registry::attach(*this, slots);
}

void arena_pool::release_thread_arena() {
    std::vector<thread_registry::slot>& slots = thread_registry::this_thread.slots;
    for (auto it = slots.begin(); it != slots.end(); ++it) {
        if (it->pool == this && it->serial == serial_) {
            pooled_arena* arena = it->arena;
            slots.erase(it);
            return_arena(arena, true);
            return;
        }
    }
}

arenas::arena_pool_stats arena_pool::statistics() const {
    std::lock_guard guard(mutex_);
    return stats_;
}

}  // namespace allocproof::strategies

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::arena_pool)
