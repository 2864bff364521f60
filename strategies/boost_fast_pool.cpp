// boost_fast_pool — boost::fast_pool_allocator of the Boost the build uses (Debian 12: Boost 1.74),
// with its defaults: one process-wide singleton_pool per chunk size, locked by its std::mutex.
//
// Contract: fixed size (block_spec::size rounded up to a size class, below), frees individually,
// thread-safe and cross-thread free (the singleton's mutex guards every malloc and free),
// alignment up to alignof(std::max_align_t). Memory: blocks of 32, 64, 128, ... chunks from
// `new (std::nothrow) char[]` (the global allocator), NEVER returned: a singleton_pool lives until
// the process exits (Boost documents this). Freed chunks are reused last-in first-out.
//
// Sharing, as in Boost: every fast_pool_allocator<T> with the same sizeof(T) uses the same
// singleton, so every instance of this strategy with the same size class shares one pool and one
// mutex, across instances and threads: a chunk freed through one instance is handed out by
// another. In a cell, the two threads of a two-thread run share the pool even though each has its
// own instances. That is what a program using fast_pool_allocator gets.
//
// The size, chosen at run time from a template argument: singleton_pool's chunk size is a
// template argument (fast_pool_allocator<T> uses sizeof(T)), and a blocks strategy learns its size
// from block_spec at run time. The constructor picks one of the size classes below (exact for the
// workloads' 64 B and 256 B; at most 1/3 waste between classes, so 1000 B uses 1024 B chunks) and
// keeps its index. Each call then branches on that index to a direct, inlined call of
// fast_pool_allocator<chunk<size>>::allocate() / deallocate(): a switch, not a function pointer,
// so the call stays inlinable. GCC 12 compiles the branch to a jump table: per call one load and
// one indirect jump, always to the same target for an instance, so predicted; beside it Boost takes
// a mutex lock and unlock per call. A native user with a compile-time type pays neither the jump
// nor the rounding. Sizes above the largest class are refused at construction
// (std::invalid_argument).
//
// Measurement traps: the pool outlives the instance, so memory measured after an instance is gone
// still includes its chunks; the first use of a size class in a process pays for its first block.
#include "harness/register.hpp"
#include "allocproof/strategy.hpp"
#include "strategies/boost_free_list.hpp"

#include <boost/pool/pool_alloc.hpp>
#include <boost/version.hpp>

#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

namespace allocproof::strategies {

class boost_fast_pool {
public:
    static constexpr strategy_traits traits{
        .name = "boost_fast_pool",
        .summary = "boost::fast_pool_allocator: process-wide singleton_pool per size, std::mutex",
        .origin = "Boost.Pool " BOOST_LIB_VERSION " fast_pool_allocator / singleton_pool (peer)",
        .frees_individually = true,
        .thread_safe = true,
        .cross_thread_free = true,
        .fixed_size = true,
    };

    // Multiples of 16, so that every chunk is 16-aligned (see boost_pool.cpp); about 1.5x apart.
    static constexpr std::array<std::size_t, 23> size_classes{16,   32,   48,   64,   80,    96,    112,  128,
                                                              192,  256,  384,  512,  768,   1024,  1536, 2048,
                                                              3072, 4096, 6144, 8192, 16384, 32768, 65536};

    explicit boost_fast_pool(const block_spec& spec) : class_(class_of(spec)) {}

    void* allocate(std::size_t /*bytes*/) {
        return dispatch([]<std::size_t I>(std::integral_constant<std::size_t, I>) -> void* {
            return boost_free_list::handed_out(allocator<I>::allocate(), size_classes[I]);
        });
    }

    void deallocate(void* block, std::size_t /*bytes*/) {
        dispatch([block]<std::size_t I>(std::integral_constant<std::size_t, I>) -> void* {
            boost_free_list::giving_back(block, size_classes[I]);
            allocator<I>::deallocate(static_cast<chunk<size_classes[I]>*>(block));
            return nullptr;
        });
    }

    std::size_t chunk_bytes() const { return size_classes[class_]; }

private:
    template <std::size_t Bytes>
    struct alignas(16) chunk {
        std::byte bytes[Bytes];
    };

    // Boost's defaults throughout: new/delete user allocator, default mutex, 32 chunks first.
    template <std::size_t I>
    using allocator = boost::fast_pool_allocator<chunk<size_classes[I]>>;

    static std::size_t class_of(const block_spec& spec) {
        for (std::size_t i = 0; i < size_classes.size(); ++i) {
            if (size_classes[i] >= spec.size) return i;
        }
        throw std::invalid_argument("boost_fast_pool: block size " + std::to_string(spec.size) +
                                    " exceeds its largest size class");
    }

    // Calls call(integral_constant<I>) for I == class_, one direct call per class.
    template <class Call>
    void* dispatch(Call call) const {
        return dispatch(call, std::make_index_sequence<size_classes.size()>{});
    }
    template <class Call, std::size_t... Is>
    void* dispatch(Call call, std::index_sequence<Is...>) const {
        void* result = nullptr;
        (void)((class_ == Is && ((result = call(std::integral_constant<std::size_t, Is>{})), true)) || ...);
        return result;
    }

    std::size_t class_;
};

}  // namespace allocproof::strategies

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::boost_fast_pool)
