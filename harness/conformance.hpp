// The contract of allocproof/strategy.hpp, checked on any registered blocks strategy through its
// erased form (registry::make_strategy), so a plugin's strategies are checked like the built-in
// ones before any of their cells is measured: the cell program's --conformance mode runs these,
// in a process of its own, for the driver (harness/driver/conformance_check.hpp).
//
//   check_blocks   one thread: live blocks are aligned as asked (up to traits.max_alignment),
//                  disjoint, keep their contents while other blocks come and go, and freed blocks
//                  are handed out again (what tests/test_strategy_conformance.cpp asks of the
//                  built-in strategies)
//   stress_check   for a strategy that declares thread_safe: threads share one instance, allocate,
//                  fill every block with a pattern naming its thread and number, and hand blocks to
//                  other threads, which check the pattern and free them (or hand them back to their
//                  owner, without cross_thread_free). A block handed out twice while live, or
//                  written by someone else, breaks a pattern: the strategy races.
#pragma once

#include "allocproof/registry.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace allocproof::conformance {

struct failure {
    std::string check;  // "alignment", "disjoint blocks", "contents kept", "reuse", "stress check"
    std::string what;   // one line, with the figures
};

using strategy_maker = std::function<std::unique_ptr<erased_strategy>(const block_spec&)>;
// Told each step's name before it runs, so that a crash in a strategy can be put down to the step.
using step_notice = std::function<void(std::string_view step)>;

std::optional<failure> check_blocks(const strategy_traits& traits, const strategy_maker& make,
                                    const step_notice& notice = {});

struct stress_settings {
    // More threads than most machines' cores: a thread preempted in the middle of a call races with
    // the others as surely as two running at once; the more threads, the more such preemptions.
    unsigned threads = 8;
    std::uint64_t blocks_per_thread = 50'000;     // each thread allocates at least this many,
    std::chrono::milliseconds min_duration{150};  // and goes on for at least this long
};
std::optional<failure> stress_check(const strategy_traits& traits, const strategy_maker& make,
                                    const stress_settings& settings = {}, const step_notice& notice = {});

// What a registered strategy must pass before it is measured: check_blocks, then stress_check if
// it declares thread_safe. `passed` receives the name of every check passed. A strategy the
// registry does not know, or one without the blocks family, is a failure of check "registry".
// Reuse is the exception: a strategy that does not hand freed blocks out again keeps its figures
// right (its cells show the memory it keeps, and `leaked`, as a leak always has), so that finding
// goes to `notes` and the checks go on.
std::optional<failure> check_strategy(std::string_view name, const step_notice& notice = {},
                                      std::vector<std::string>* passed = nullptr,
                                      std::vector<failure>* notes = nullptr);

}  // namespace allocproof::conformance
