// An object-pool strategy whose pool takes nothing back, registered as a strategy of the tree is.
// expect: allocproof object_pool strategy (traits.provides_object_pool): object_pool<T> misses `void release(T*)`
#include "harness/register.hpp"

#include <cstddef>

namespace contract_violations {

template <class T>
class one_way_pool {
public:
    explicit one_way_pool(std::size_t) {}
    T* acquire() { return new T(); }
};

struct pool_only {
    static constexpr allocproof::strategy_traits traits{.name = "pool_only",
                                                        .summary = "a pool without release",
                                                        .origin = "tests/contract_violations",
                                                        .provides_blocks = false,
                                                        .provides_object_pool = true};
    template <class T>
    using object_pool = one_way_pool<T>;
};

}  // namespace contract_violations

ALLOCPROOF_REGISTER_STRATEGY(contract_violations::pool_only)
