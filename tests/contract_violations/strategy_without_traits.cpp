// A strategy with no traits, in a plugin.
// expect: allocproof strategy: missing `static constexpr allocproof::strategy_traits traits`
#include "allocproof/plugin.hpp"

#include <cstddef>
#include <new>

namespace contract_violations {

class nameless {
public:
    explicit nameless(const allocproof::block_spec&) {}
    void* allocate(std::size_t bytes) { return ::operator new(bytes); }
    void deallocate(void* block, std::size_t bytes) { ::operator delete(block, bytes); }
};

}  // namespace contract_violations

ALLOCPROOF_PLUGIN("contract violation", contract_violations::nameless)
