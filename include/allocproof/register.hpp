// allocproof — ALLOCPROOF_REGISTER_STRATEGY(type): make a strategy known to the harness.
//
// Registration instantiates every workload the build found (the generated list in
// allocproof/generated_workloads.hpp) with the strategy, for each workload whose `accepts` says
// the strategy can serve it. The instantiations live in the strategy's own object file, so adding
// a strategy compiles one file and adding a workload touches no strategy file.
#pragma once

#include "allocproof/cell.hpp"
#include "allocproof/generated_workloads.hpp"
#include "allocproof/registry.hpp"
#include "allocproof/strategy.hpp"
#include "harness/cell_runner.hpp"

namespace allocproof {

namespace detail {

template <class S>
class erased final : public erased_strategy {
public:
    explicit erased(const block_spec& spec) : strategy_(spec) {}
    void* allocate(std::size_t bytes) override { return strategy_.allocate(bytes); }
    void deallocate(void* block, std::size_t bytes) override { strategy_.deallocate(block, bytes); }

private:
    S strategy_;
};

template <class S>
std::unique_ptr<erased_strategy> make_erased(const block_spec& spec) {
    return std::make_unique<erased<S>>(spec);
}

template <class S, class... Ws>
void register_cells(type_list<Ws...>) {
    (
        [] {
            if constexpr (Ws::template accepts<S>) {
                registry::instance().add_cell(Ws::traits.name, S::traits.name, &run_cell<Ws, S>);
            }
        }(),
        ...);
}

}  // namespace detail

template <allocation_strategy S>
bool register_strategy() {
    registry::instance().add_strategy(S::traits, &detail::make_erased<S>);
    detail::register_cells<S>(generated::all_workloads{});
    return true;
}

}  // namespace allocproof

#define ALLOCPROOF_REGISTER_STRATEGY(...)                                    \
    template <>                                                              \
    inline const bool allocproof::registration::strategy_registered<__VA_ARGS__> = \
        ::allocproof::register_strategy<__VA_ARGS__>();
