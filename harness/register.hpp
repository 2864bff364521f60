// ALLOCPROOF_REGISTER_STRATEGY(type): make a strategy of the tree known to the harness.
//
// Registration instantiates every workload the build found (the generated list in
// allocproof/generated_workloads.hpp) with the strategy, for each workload whose `accepts` says
// the strategy can serve it. The instantiations live in the strategy's own object file, so adding
// a strategy compiles one file and adding a workload touches no strategy file. A strategy of the
// tree also runs the micro suite (harness/micro_patterns.hpp, harness/micro_registry.hpp); a
// plugin's does not (allocproof/plugin.hpp), which is why this header is not public.
#pragma once

#include "allocproof/strategy_cells.hpp"
#include "harness/micro_patterns.hpp"
#include "harness/micro_registry.hpp"

namespace allocproof {

namespace detail {

template <class S>
void register_micro_benchmarks() {
    micro_registry& reg = micro_registry::instance();
    const std::string_view name = S::traits.name;
    if constexpr (S::traits.provides_blocks) {
        constexpr bool frees = S::traits.frees_individually;
        if constexpr (frees) {
            reg.add({name, "one_live", &micro::one_live<S>, {64, 256}, false});
            reg.add({name, "replace_10k", &micro::replace_10k<S>, {64, 256}, false});
            reg.add({name, "replace_big", &micro::replace_big<S>, {8192, 8192}, false});
            reg.add({name, "2t_own", &micro::two_threads_own<S>, {64, 256}, true});
        }
        if constexpr (frees || resettable<S>) {
            reg.add({name, "batch_10k", &micro::batch_10k<S>, {64, 256}, false});
        }
        if constexpr (S::traits.cross_thread_free) {
            reg.add({name, "2t_cross", &micro::two_threads_cross<S>, {64, 256}, true});
        }
    }
    if constexpr (S::traits.provides_vector) {
        reg.add({name, "vector_fill", &micro::vector_fill<S>, {6, 20}, false});
    }
    if constexpr (S::traits.provides_object_pool) {
        reg.add({name, "object_one", &micro::object_one<S>, {0, 0}, false});
        reg.add({name, "objects_many", &micro::objects_many<S>, {100, 10000}, false});
    }
    if constexpr (S::traits.provides_buffers) {
        reg.add({name, "buffer_slices", &micro::buffer_slices<S>, {4096, 65536}, false});
    }
}

}  // namespace detail

// S's contract is checked once, by register_strategy_cells; the micro suite follows only a
// strategy that keeps it.
template <class S>
bool register_strategy() {
    register_strategy_cells<S>();
    if constexpr (any_strategy<S>) detail::register_micro_benchmarks<S>();
    return true;
}

}  // namespace allocproof

#define ALLOCPROOF_REGISTER_STRATEGY(...)                                          \
    template <>                                                                    \
    inline const bool allocproof::registration::strategy_registered<__VA_ARGS__> = \
        ::allocproof::register_strategy<__VA_ARGS__>();
