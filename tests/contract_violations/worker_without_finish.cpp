// A workload whose worker never says what it computed: caught where a strategy makes cells with it.
// expect: allocproof workload: worker<S> misses `std::uint64_t finish()`
#include "allocproof/plugin.hpp"
#include "parts.hpp"

#include <cstddef>
#include <cstdint>

namespace contract_violations {

struct digestless {
    static constexpr allocproof::workload_traits traits{.name = "digestless", .summary = "no finish()"};

    template <class S>
    static constexpr bool accepts = S::traits.provides_blocks;

    template <class S>
    class worker {
    public:
        worker(const allocproof::workload_params&, unsigned) {}
        void operation(std::uint64_t) {}
        std::size_t live_bytes_peak() const { return 0; }
    };
};

void register_all() { allocproof::register_strategy_cells<plain_blocks>(allocproof::type_list<digestless>{}); }

}  // namespace contract_violations

ALLOCPROOF_PLUGIN_REGISTERING("contract violation", contract_violations::register_all)
