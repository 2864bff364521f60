// A blocks strategy that forgot deallocate(), registered as a strategy of the tree is.
// expect: allocproof blocks strategy (traits.provides_blocks): missing `void deallocate(void* block, std::size_t bytes)`
#include "harness/register.hpp"

#include <cstddef>
#include <new>

namespace contract_violations {

class never_gives_back {
public:
    static constexpr allocproof::strategy_traits traits{
        .name = "never_gives_back", .summary = "no deallocate", .origin = "tests/contract_violations"};
    explicit never_gives_back(const allocproof::block_spec&) {}
    void* allocate(std::size_t bytes) { return ::operator new(bytes); }
};

}  // namespace contract_violations

ALLOCPROOF_REGISTER_STRATEGY(contract_violations::never_gives_back)
