// Strategies are checked before they are measured: every blocks strategy of a run (a plugin's, or
// a built-in one) passes the cell program's --conformance mode once (harness/conformance.hpp: the
// contract's single-thread checks, and for a thread-safe strategy the stress check for races), in a
// child process of its own. A strategy that fails has none of its cells measured: each repetition's
// cell program is told the reason (--conformance-failed) and exits with it at once, so every cell
// of that strategy shows `invalid` with the failed check, through the ordinary records (resume,
// journal and claims' rounds included).
#pragma once

#include "harness/driver/matrix.hpp"
#include "harness/driver/run.hpp"

#include <atomic>
#include <string>
#include <vector>

namespace allocproof::driver {

// Checks each blocks strategy of the plan's model cells on the plan's first allocator, prints a line
// for each that fails, and remembers the failures for conformance_refusal. Stops early when `stop`
// is set; a strategy left unchecked is not refused.
void check_conformance(const plan& p, const matrix_request& request, const run_options& options,
                       const std::atomic<bool>& stop);

// Why `strategy` failed its check in this run ("<check>: <what>"); empty when it passed or was not checked.
std::string conformance_refusal(const std::string& strategy);

// Adds --conformance-failed to a cell program's command line when the cell's strategy failed.
void append_conformance_refusal(std::vector<std::string>& argv, const std::string& strategy);

}  // namespace allocproof::driver
