// boost_pool — boost::pool<> of the Boost the build uses (Debian 12: Boost 1.74): one instance
// serves chunks of one size with pool<>::malloc() / pool<>::free(), the unordered, O(1) calls.
//
// Contract: fixed size (block_spec::size, rounded up to the block alignment and to a pointer; a
// request of at most that many bytes), frees individually, NOT thread-safe (boost::pool has no
// lock: one instance per thread), alignment up to alignof(std::max_align_t): blocks come from
// `new (std::nothrow) char[]` (default_user_allocator_new_delete, the global allocator), aligned to
// 16 on x86-64, and chunks sit at multiples of the rounded size from the block's start. Memory:
// the first block holds 32 chunks, each next one twice as many (no maximum), plus 16 bytes of
// Boost's own bookkeeping at its end; all are returned when the instance is destroyed.
// Freed chunks are reused last-in first-out.
//
// What a user of Boost.Pool would see and these figures do not: ordered_malloc / ordered_free (what
// boost::pool_allocator, object_pool and release_memory() rely on) keep the free list sorted, and
// cost a walk of the free list per free; the plain malloc/free measured here do not.
//
// Measurement traps: the pool never shrinks; a freed chunk's contents past its first pointer are
// poisoned under ASan (strategies/boost_free_list.hpp).
#include "harness/register.hpp"
#include "allocproof/strategy.hpp"
#include "strategies/boost_free_list.hpp"

#include <boost/pool/pool.hpp>
#include <boost/version.hpp>

#include <algorithm>
#include <cstddef>

namespace allocproof::strategies {

class boost_pool {
public:
    static constexpr strategy_traits traits{
        .name = "boost_pool",
        .summary = "boost::pool<>: malloc/free of one chunk size, single-thread",
        .origin = "Boost.Pool " BOOST_LIB_VERSION " boost::pool<> (peer)",
        .frees_individually = true,
        .thread_safe = false,
        .cross_thread_free = false,
        .fixed_size = true,
    };

    explicit boost_pool(const block_spec& spec) : chunk_bytes_(chunk_size(spec)), pool_(chunk_bytes_) {}

    boost_pool(const boost_pool&) = delete;
    boost_pool& operator=(const boost_pool&) = delete;

    void* allocate(std::size_t /*bytes*/) { return boost_free_list::handed_out(pool_.malloc(), chunk_bytes_); }

    void deallocate(void* block, std::size_t /*bytes*/) {
        boost_free_list::giving_back(block, chunk_bytes_);
        pool_.free(block);
    }

private:
    // A multiple of the alignment, so that every chunk of a 16-aligned block is aligned; Boost
    // itself rounds only to a pointer. Boost uses this size as it is (alloc_size() == it).
    static std::size_t chunk_size(const block_spec& spec) {
        const std::size_t align = std::max(spec.alignment, boost_free_list::link_bytes);
        const std::size_t bytes = std::max(spec.size, boost_free_list::link_bytes);
        return (bytes + align - 1) / align * align;
    }

    std::size_t chunk_bytes_;
    boost::pool<> pool_;
};

}  // namespace allocproof::strategies

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::boost_pool)
