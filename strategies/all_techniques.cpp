// all_techniques — seed 003's three strategy-side techniques in one strategy: an arena for blocks
// (strategies/arena.cpp), small vectors with 8-ish elements inline (strategies/small_vector.cpp)
// and shared, refcounted byte buffers with zero-copy slices (strategies/shared_bytes.cpp).
//
// Contract: each family's is the strategy's it comes from, unchanged: blocks are the `arena`'s
// (NOT thread-safe, no individual frees, memory back at reset(), alignment up to 64), vectors are
// `small_vector`'s (one thread's, inline up to N), buffers are `shared_bytes`' (thread-safe
// holders, read-only bytes). As a whole: one instance per thread.
//
// Models seed 003 (Lightning DB), which applies all of them in one engine and estimates the sum:
// "Estimated Total Reduction: 50-70%" of allocations (claim L3-9, judged on workloads/db_mix.hpp,
// where the workload-side techniques, reserved buffers and interned names, are its `tuned`
// variant). A composition, not a new mechanism: the figures of each part alone are those of the
// three strategies it is made of.
//
// Measurement traps: on a workload that uses one family, this is that family's strategy and its
// cells repeat that strategy's (btree, txn_sets: small_vector; memtable_wal: shared_bytes;
// query_temps, json_docs: arena); only a workload that uses them together shows the combination.
#include "harness/register.hpp"
#include "allocproof/strategy.hpp"
#include "strategies/arena.hpp"
#include "strategies/shared_buffer.hpp"
#include "strategies/small_vector.hpp"
#include "workloads/db_mix.hpp"

#include <cstddef>

namespace allocproof::strategies {

class all_techniques : public arena {
public:
    static constexpr strategy_traits traits{
        .name = "all_techniques",
        .summary = "seed 003's techniques together: arena blocks, small vectors, shared-slice buffers",
        .origin = "seed 003 (Lightning DB: bumpalo, SmallVec, Bytes, applied together)",
        .provides_blocks = true,
        .provides_vector = true,
        .provides_buffers = true,
        .frees_individually = arena::traits.frees_individually,
        .thread_safe = false,
        .cross_thread_free = false,
        .fixed_size = arena::traits.fixed_size,
        .may_refuse = arena::traits.may_refuse,
        .max_alignment = arena::traits.max_alignment,
    };

    using arena::arena;

    template <class T, std::size_t N>
    using vector = ::allocproof::small_vector<T, N>;

    using buffer = ::allocproof::shared_bytes_buffer;
};

}  // namespace allocproof::strategies

// Cells with db_mix alone: on any other workload they would repeat arena's, small_vector's or
// shared_bytes' (above), about 120 cells and 2 minutes of a default run that say nothing new; and no
// micro benchmarks, which would repeat the arena's.
template <>
inline const bool allocproof::registration::strategy_registered<allocproof::strategies::all_techniques> =
    (allocproof::register_strategy_cells<allocproof::strategies::all_techniques>(
         allocproof::type_list<allocproof::workloads::db_mix>{}),
     true);
