// std — the baseline: every block straight from the global allocator (::operator new / delete).
//
// Contract: any size, frees individually, thread-safe (as safe as the global allocator), alignment
// up to alignof(std::max_align_t) without asking for more. Memory comes from the process's global
// allocator, which is the point: every other strategy is read as a ratio to this one on the same
// global allocator.
#include "allocproof/register.hpp"
#include "allocproof/strategy.hpp"

#include <new>

namespace allocproof::strategies {

class std_new {
public:
    static constexpr strategy_traits traits{
        .name = "std",
        .summary = "global operator new/delete (the baseline every ratio is taken against)",
        .frees_individually = true,
        .thread_safe = true,
        .fixed_size = false,
    };

    explicit std_new(const block_spec&) {}

    void* allocate(std::size_t bytes) { return ::operator new(bytes); }

    // Sized delete, as a C++ program that knows its object sizes would call it.
    void deallocate(void* block, std::size_t bytes) { ::operator delete(block, bytes); }
};

}  // namespace allocproof::strategies

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::std_new)
