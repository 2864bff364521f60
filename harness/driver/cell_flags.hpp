// What a cell's clock does not see, said beside its figures: a strategy can look fast by doing its
// allocation work before the measured phase (in its constructor), after it (in its destructor),
// on a thread of its own, or by taking memory outside operator new and never giving it back.
// None of that is wrong, so the cell stays `ok`; but a ratio that rests on it is flagged wherever
// the cell is shown (console table, report, plugin table), measured against `std` on the same
// workload form, allocator and threads. results/SCHEMA.md §13 lists the flags and their bounds.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>

namespace allocproof::driver {

// Sets `flags` on every model cell of `cells` (results.json's cells): an array of
// {"flag": name, "text": one line with the figures}. Empty when nothing is flagged, or when the
// cell or its std cell is not ok, or a figure is missing (a results file from before the metric).
void flag_cells(nlohmann::json& cells);

// A strategy answers for all its cells (the report applies the same rule: harness/report/trust.py).
struct strategy_fault {
    std::string text;        // "invalid in 2 cells, failed in 1"
    bool untrusted = false;  // a wrong or unbelievable result: not ranked, no verdict
};

// Every strategy with a failed, invalid, implausible or unverified cell. Real programs are not
// strategies and are left out.
std::map<std::string, strategy_fault> strategy_faults(const nlohmann::json& cells);

}  // namespace allocproof::driver
