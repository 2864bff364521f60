// pmr_blocks<Resource> — a blocks strategy over one std::pmr memory resource, the way a program
// that picked <memory_resource> uses it: one resource object, upstream new_delete_resource(), every
// block asked for with the instance's alignment and given back with the same size and alignment.
// Shared by pmr_monotonic, pmr_unsync_pool and pmr_sync_pool (one file each).
//
// What this wrapper adds, and why:
//   * The upstream is std::pmr::new_delete_resource() by name, not get_default_resource(): the
//     default can be changed by a program, new_delete_resource() is always ::operator new/delete,
//     so the chunks come from the global allocator of the process, as the contract asks.
//   * The calls go through memory_resource::allocate/deallocate on the resource object itself, whose
//     type is known here, so GCC binds do_allocate/do_deallocate directly (checked in the generated
//     code of the micro program: no call through the vtable). A program that hands the resource to
//     containers as a memory_resource* (polymorphic_allocator) pays one more indirect call per
//     operation than these figures show.
//   * Sizes are rounded up to a multiple of the alignment before they reach the resource: libstdc++
//     12's pool resources choose a pool by max(bytes, alignment) alone, so a 24-byte block asked for
//     with 16-byte alignment comes from the 24-byte pool, 8-aligned (found by the alignment check
//     every cell makes, allocproof/checked_blocks.hpp). A program must round likewise to get the
//     alignment it asks for; the rounding is its honest price in memory.
//   * AddressSanitizer: a block given back is poisoned before the resource takes it. This is sound
//     for libstdc++'s resources: the pool resources keep their bookkeeping (one bit per block)
//     outside the blocks, and the monotonic resource never touches a block again; so a use after
//     free is caught. The block is unpoisoned when handed out again. Memory a resource has never
//     handed out is not poisoned: the resources write their own headers into it, which would trip
//     ASan if we did. Poisoning happens BEFORE the block is given back, so that another thread
//     cannot be handed it (synchronized_pool_resource) and then have it poisoned under its feet.
#pragma once

#include "allocproof/strategy.hpp"
#include "strategies/poison.hpp"

#include <cstddef>
#include <memory_resource>

// "libstdc++ 12 std::pmr::<what> (peer)": the version is the one the build compiled against.
#define ALLOCPROOF_PMR_STRINGIFY_(x) #x
#define ALLOCPROOF_PMR_STRINGIFY(x) ALLOCPROOF_PMR_STRINGIFY_(x)
#define ALLOCPROOF_PMR_ORIGIN(what) "libstdc++ " ALLOCPROOF_PMR_STRINGIFY(_GLIBCXX_RELEASE) " std::pmr::" what " (peer)"

namespace allocproof::strategies {

template <class Resource>
class pmr_blocks {
public:
    explicit pmr_blocks(const block_spec& spec)
        : alignment_(spec.alignment), resource_(std::pmr::new_delete_resource()) {}

    pmr_blocks(const pmr_blocks&) = delete;
    pmr_blocks& operator=(const pmr_blocks&) = delete;

    void* allocate(std::size_t bytes) {
        void* block = resource_.allocate(rounded(bytes), alignment_);
        unpoison_memory(block, bytes);
        return block;
    }

    void deallocate(void* block, std::size_t bytes) {
        poison_memory(block, bytes);
        resource_.deallocate(block, rounded(bytes), alignment_);
    }

    // The resource itself, for the native calls a strategy adds (release(), options()).
    Resource& resource() { return resource_; }

private:
    std::size_t rounded(std::size_t bytes) const { return (bytes + alignment_ - 1) / alignment_ * alignment_; }

    std::size_t alignment_;
    Resource resource_;
};

}  // namespace allocproof::strategies
