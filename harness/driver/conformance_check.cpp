#include "harness/driver/conformance_check.hpp"

#include "harness/driver/cell_kind.hpp"
#include "harness/driver/child_process.hpp"
#include "harness/driver/matrix_catalogue.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <sstream>

namespace allocproof::driver {

namespace {

// strategy -> reason, for this run.
std::map<std::string, std::string, std::less<>>& refusals() {
    static std::map<std::string, std::string, std::less<>> failed;
    return failed;
}

constexpr std::string_view step_prefix = "allocproof-cell: conformance check: ";
constexpr std::string_view failure_prefix = "allocproof-cell: conformance check failed: ";
constexpr std::string_view note_prefix = "allocproof-cell: conformance note: ";

struct conformance_verdict {
    std::string refusal;    // the failed check: its cells are not measured
    std::string unchecked;  // the check could not finish: its cells are measured, and show why
    std::vector<std::string> notes;
};

// A failed check's line refuses the strategy; so does any end of the stress check but a pass: a
// thread-safe strategy that crashes or deadlocks when threads share it races. A crash, hang or
// exception in a single-thread step is the strategy's fault too, but no finding about its contract:
// its cells run, and fail with the same fault, where the records say what it was.
conformance_verdict verdict_of(const child_outcome& outcome) {
    conformance_verdict v;
    std::string step = "starting", failed, last;
    std::istringstream lines(outcome.err);
    for (std::string line; std::getline(lines, line);) {
        if (line.starts_with(step_prefix)) step = line.substr(step_prefix.size());
        if (line.starts_with(failure_prefix)) failed = line.substr(failure_prefix.size());
        if (line.starts_with(note_prefix)) v.notes.push_back(line.substr(note_prefix.size()));
        if (!line.empty()) last = line;
    }
    if (outcome.started && !outcome.timed_out && outcome.signal == 0 && outcome.exit_code == 0) return v;
    std::string& reason = !failed.empty() || step == "stress check" ? v.refusal : v.unchecked;
    if (!failed.empty()) {
        reason = failed;
    } else if (outcome.timed_out) {
        reason = fmt::format("{}: still running after {:.1f} s (a hang or a deadlock)", step, outcome.seconds);
    } else if (outcome.signal != 0) {
        reason = fmt::format("{}: crashed with {}", step, signal_name(outcome.signal));
    } else {
        reason = fmt::format("{}: the check exited with code {}{}", step, outcome.exit_code,
                             last.empty() ? "" : ": " + last);
    }
    return v;
}

}  // namespace

void check_conformance(const plan& p, const matrix_request& request, const run_options& options,
                       const std::atomic<bool>& stop) {
    refusals().clear();
    std::vector<std::string> strategies;
    std::string allocator;
    for (const auto& cell : p.cells) {
        if (!kind_of(cell).runs_a_strategy()) continue;
        if (allocator.empty()) allocator = cell.allocator;
        const strategy_traits* traits = catalogue().find_strategy(cell.strategy);
        if (traits != nullptr && traits->provides_blocks &&
            std::ranges::find(strategies, cell.strategy) == strategies.end()) {
            strategies.push_back(cell.strategy);
        }
    }
    // The check does the same work whatever the cells' scale, so it gets at least least_check_seconds:
    // a --timeout chosen for test-scale cells (2 s) would call a thread-safe strategy's stress check a
    // deadlock where it is only slow (std's whole check: 1.3 s alone under AddressSanitizer, past 2 s
    // beside other tests), and refuse a correct strategy.
    constexpr double least_check_seconds = 30;
    const auto limit = std::chrono::milliseconds(
        static_cast<long long>(std::max(options.timeout_seconds, least_check_seconds) * 1000));
    for (const auto& strategy : strategies) {
        if (stop.load()) return;
        std::vector<std::string> argv = {cell_program(allocator).string(), "--allocator", allocator};
        for (const auto& plugin : request.plugins) argv.insert(argv.end(), {"--plugin", plugin});
        argv.insert(argv.end(), {"--conformance", strategy});
        const child_outcome outcome = run_child(argv, limit, stop);
        if (outcome.interrupted) return;
        const conformance_verdict v = verdict_of(outcome);
        for (const auto& note : v.notes) {
            std::cout << fmt::format(
                "allocproof: strategy '{}': {}; measured all the same (the memory it keeps shows "
                "in its cells)\n",
                strategy, note);
        }
        if (!v.unchecked.empty()) {
            std::cout << fmt::format(
                "allocproof: strategy '{}' could not be checked ({}): its cells are measured, "
                "and will show the fault\n",
                strategy, v.unchecked);
        }
        if (v.refusal.empty()) continue;
        std::cout << fmt::format(
            "allocproof: strategy '{}' failed its conformance check ({}): its cells are not "
            "measured\n",
            strategy, v.refusal);
        refusals()[strategy] = v.refusal;
    }
}

std::string conformance_refusal(const std::string& strategy) {
    auto found = refusals().find(strategy);
    return found == refusals().end() ? std::string() : found->second;
}

void append_conformance_refusal(std::vector<std::string>& argv, const std::string& strategy) {
    if (const std::string reason = conformance_refusal(strategy); !reason.empty()) {
        argv.insert(argv.end(), {"--conformance-failed", reason});
    }
}

}  // namespace allocproof::driver
