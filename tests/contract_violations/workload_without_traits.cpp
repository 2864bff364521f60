// A workload with no traits, registered as a workload of the tree is.
// expect: allocproof workload: missing `static constexpr allocproof::workload_traits traits`
#include "allocproof/registry.hpp"
#include "parts.hpp"

namespace contract_violations {

struct untitled {
    template <class S>
    static constexpr bool accepts = S::traits.provides_blocks;

    template <class S>
    using worker = counting_worker<S>;
};

}  // namespace contract_violations

ALLOCPROOF_REGISTER_WORKLOAD(contract_violations::untitled)
