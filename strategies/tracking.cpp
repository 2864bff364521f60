// tracking — seed 004's tracking global allocator: every block from global operator new / sized
// delete, as the `std` baseline does, with allocation counters around it: tracked<> of
// strategies/tracking.hpp over global_new_blocks (the blocks family of std, restated there because
// std's class lives in strategies/std.cpp). Claims G0-5 and R4-4: its counts equal the harness's
// own (tests/test_alloc_counters.cpp), and its ratio to `std` is the cost of tracking.
//
// Contract: any size, frees individually, thread-safe and cross-thread free (as the global
// allocator is), alignment up to alignof(std::max_align_t); counters are relaxed atomics, per
// instance (see tracking.hpp for what that means next to the seed's one locked global).
#include "strategies/tracking.hpp"

#include "harness/register.hpp"

namespace allocproof::strategies {

class tracking : public tracked<global_new_blocks> {
public:
    static constexpr strategy_traits traits = tracked_traits<global_new_blocks>(
        "tracking", "global operator new/delete with allocation, byte, live and peak counters",
        "seed 004 (Rust Logic Graph TrackingAllocator, AllocationTracker, MemoryProfiler); "
        "seed 000 (Mojo-Grizzly MemoryProfiler)");

    using tracked::tracked;
};

}  // namespace allocproof::strategies

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::tracking)
