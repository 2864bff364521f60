// allocproof — the cells a strategy makes with the workloads: shared by ALLOCPROOF_REGISTER_STRATEGY
// (a strategy in the tree) and ALLOCPROOF_PLUGIN (a strategy in a shared library of its own).
//
// Every workload the build found (the generated list in allocproof/generated_workloads.hpp), or
// the ones a caller names, is instantiated with the strategy, for each workload whose `accepts`
// says the strategy can serve it. The instantiations live in the strategy's own object file (or
// plugin), so only the choice of cell, a function pointer, crosses into the harness: the hot path
// is the workload calling the strategy directly, with no virtual call between them. A cell sees a
// blocks strategy through checked_blocks (allocproof/checked_blocks.hpp), which checks every
// block's alignment.
#pragma once

#include "allocproof/cell.hpp"
#include "allocproof/checked_blocks.hpp"
#include "allocproof/generated_workloads.hpp"
#include "allocproof/registry.hpp"
#include "allocproof/strategy.hpp"
#include "allocproof/cell_runner.hpp"

#include <memory>

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

}  // namespace detail

namespace detail {

// W's cells with S, when W is a workload that accepts S and whose worker S can be measured with.
template <class W, class S>
void register_cells_with(registry& reg) {
    if constexpr (workload_definition<W>) {  // else W's own ALLOCPROOF_REGISTER_WORKLOAD says why
        if constexpr (W::template accepts<S>) {
            using measured = measured_strategy<S>;
            if constexpr (check_worker_contract<W, measured>()) {
                unsigned variant = 0;
                for (std::string_view name : reg.workload_names(W::traits)) {
                    reg.add_cell(name, S::traits.name, &run_cell<W, measured>, variant++);
                }
            }
        }
    }
}

}  // namespace detail

// Registers strategy S and its cells with the workloads Ws. A plugin may name fewer workloads
// than the build has, to build faster; a cell it does not make is simply not in its matrix.
// S's contract is checked here (check_strategy_contract): a strategy that misses part of it gets
// one error naming the family and the member, and nothing further is instantiated with it.
template <class S, class... Ws>
void register_strategy_cells(type_list<Ws...>) {
    if constexpr (check_strategy_contract<S>()) {
        strategy_factory make = nullptr;
        if constexpr (S::traits.provides_blocks) make = &detail::make_erased<S>;
        registry& reg = registry::instance();
        reg.add_strategy(S::traits, make);
        (detail::register_cells_with<Ws, S>(reg), ...);
    }
}

// Registers strategy S and its cells with every workload of the build.
template <class S>
void register_strategy_cells() {
    register_strategy_cells<S>(generated::all_workloads{});
}

}  // namespace allocproof
