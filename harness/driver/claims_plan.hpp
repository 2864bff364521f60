// Claims first (issue 12, claims/README.md "Repetitions"): a run given a claims file measures the
// cells its claims need before the rest of the matrix, with the claims' schedule of repetitions:
// schedule[0] each, then, round by round, more for the cells of rows still undecided, as the
// claims evaluator (harness/report/verdicts.py --plan-round) asks, until every row is decided, no
// undecided row is within reach, or the time budget would not leave room for the rest.
#pragma once

#include "harness/driver/matrix.hpp"

#include <atomic>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace allocproof::driver {

struct claims_plan {
    std::vector<unsigned> schedule;  // claims.json "repetitions.schedule"
    std::vector<bool> needed;        // per cell of the plan: does a claim compare it?
    std::size_t needed_count = 0;
};

// Which of a claim's lists of comparisons ("comparisons", "context") name cells to take.
enum class claim_cells {
    all,           // every list of every claim: what a run measures first
    instructions,  // the allocation-level claims' comparisons and every claim's context: what the
                   // verdicts read of the instruction pass (instruction_pass.hpp)
};

// Reads the claims file's schedule and the cells its comparisons name (on every allocator of the
// plan). A file that cannot be read or lacks these is a usage_error.
claims_plan plan_claims(const plan& p, const std::string& claims_file, claim_cells which = claim_cells::all);

// The evaluator's answer for the run in `out`: cell id -> the repetitions it should have after the
// next round. Empty when no row needs more, or the evaluator is not there or fails (then `note`
// says why, once).
std::map<std::string, unsigned> next_round(const std::filesystem::path& out, const std::string& claims_file,
                                           const std::atomic<bool>& stop, std::string& note);

}  // namespace allocproof::driver
