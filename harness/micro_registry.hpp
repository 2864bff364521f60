// The micro suite's own registry: the patterns of harness/micro_patterns.hpp each registered
// strategy runs under Google Benchmark (allocproof-micro-<allocator>, harness/micro_main.cpp).
// Kept apart from the registry of cells (allocproof/registry.hpp), which a plugin compiles against:
// the micro suite is for strategies of the tree only, and Google Benchmark no business of a plugin.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace benchmark {
class State;
}

namespace allocproof {

// One micro-benchmark: a pattern run on a strategy.
using micro_function = void (*)(benchmark::State&, std::size_t argument);
struct micro_entry {
    std::string_view strategy;
    std::string_view pattern;
    micro_function run;
    std::size_t arguments[2];  // block sizes in bytes, or element counts for vector patterns
    bool manual_time;          // timed by the pattern itself (the two-thread patterns)
};

// Filled during static initialisation by ALLOCPROOF_REGISTER_STRATEGY (harness/register.hpp); a
// function-local static, like the registry of cells, so the order of initialisation is no matter.
class micro_registry {
public:
    static micro_registry& instance();
    void add(const micro_entry& entry) { entries_.push_back(entry); }
    const std::vector<micro_entry>& entries() const { return entries_; }

private:
    micro_registry() = default;
    std::vector<micro_entry> entries_;
};

}  // namespace allocproof
