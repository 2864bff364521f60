// A strategy that holds a large block only for a moment, as a plugin: every 4096th allocate()
// takes 64 MiB from the global allocator, writes every page of it and gives it back before
// returning. Memory read after the measured phase never sees it; memory read at the phase's peak
// must (tests/test_memory_while_held.cpp). 64 MiB is above glibc's largest mmap threshold (32 MiB),
// so the block is always mapped and unmapped, and the resident set falls back at once.
#include "allocproof/plugin.hpp"
#include "workloads/node_churn.hpp"

#include <cstddef>
#include <cstring>
#include <new>

namespace transient_hoard {

using allocproof::block_spec;
using allocproof::strategy_traits;

class hoard_for_a_moment {
public:
    static constexpr strategy_traits traits{
        .name = "transient_hoard",
        .summary =
            "global new/delete, plus 64 MiB touched and freed at every 4096th allocate (a test of memory read while "
            "held)",
        .origin = "tests/plugins/strategies/transient_hoard.cpp",
        .provides_blocks = true,
        .frees_individually = true,
    };
    static constexpr std::size_t hoard_bytes = std::size_t{64} << 20;

    explicit hoard_for_a_moment(const block_spec& spec) : alignment_(spec.alignment) {}

    void* allocate(std::size_t bytes) {
        if (++calls_ % 4096 == 0) {
            void* hoard = ::operator new(hoard_bytes);
            std::memset(hoard, 1, hoard_bytes);
            asm volatile("" : : "r"(hoard) : "memory");  // the writes and the block stay
            ::operator delete(hoard, hoard_bytes);
        }
        return ::operator new (bytes, std::align_val_t{alignment_});
    }
    void deallocate(void* block, std::size_t bytes) { ::operator delete (block, bytes, std::align_val_t{alignment_}); }

private:
    std::size_t alignment_;
    std::size_t calls_ = 0;
};

void register_all() {
    allocproof::register_strategy_cells<hoard_for_a_moment>(allocproof::type_list<allocproof::workloads::node_churn>{});
}

}  // namespace transient_hoard

ALLOCPROOF_PLUGIN_REGISTERING("transient hoard", transient_hoard::register_all)
