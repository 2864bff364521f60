#include "harness/driver/claims_plan.hpp"

#include "harness/driver/child_process.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace allocproof::driver {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

bool names_cell(const json& side, const planned_cell& cell) {
    if (!side.is_object() || side.value("workload", "") != cell.workload ||
        side.value("strategy", "") != cell.strategy) {
        return false;
    }
    // A real program runs at its own thread count: its sides name none. "most": the most threads
    // the machine runs without oversubscription, which the evaluator picks among the run's
    // multi-threaded cells (claims/README.md).
    if (!side.contains("threads") || side["threads"].is_null()) return true;
    if (side["threads"].is_string()) return side["threads"].get<std::string>() == "most" && cell.threads >= 2;
    return side["threads"].is_number_unsigned() && side["threads"].get<unsigned>() == cell.threads;
}

}  // namespace

claims_plan plan_claims(const plan& p, const std::string& claims_file, claim_cells which) {
    std::ifstream in(claims_file);
    if (!in) throw usage_error(fmt::format("--claims: cannot read {}", claims_file));
    const json doc = json::parse(in, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("claims") || !doc["claims"].is_array()) {
        throw usage_error(fmt::format("--claims: {} is not a claims file (claims/README.md)", claims_file));
    }
    claims_plan out;
    const json schedule = doc.value("repetitions", json::object()).value("schedule", json::array({8}));
    for (const auto& n : schedule) {
        if (!n.is_number_unsigned() || n.get<unsigned>() < 2 ||
            (!out.schedule.empty() && n.get<unsigned>() <= out.schedule.back())) {
            throw usage_error(fmt::format(
                "--claims: {}: the repetitions' schedule must be increasing whole numbers from 2", claims_file));
        }
        out.schedule.push_back(n.get<unsigned>());
    }
    if (out.schedule.empty()) throw usage_error(fmt::format("--claims: {}: an empty schedule", claims_file));
    out.needed.assign(p.cells.size(), false);
    const auto mark_named_cells = [&](const json& comparisons) {
        if (!comparisons.is_array()) return;
        for (const auto& comparison : comparisons) {
            for (const char* side : {"candidate", "baseline"}) {
                if (!comparison.is_object() || !comparison.contains(side)) continue;
                for (std::size_t i = 0; i < p.cells.size(); ++i) {
                    if (!out.needed[i] && names_cell(comparison[side], p.cells[i])) {
                        out.needed[i] = true;
                        ++out.needed_count;
                    }
                }
            }
        }
    };
    for (const auto& claim : doc["claims"]) {
        if (!claim.is_object()) continue;
        // "context": the workload cells an operation-level claim is shown beside (claims/README.md).
        for (const char* list : {"comparisons", "context"}) {
            const bool wanted = which == claim_cells::all || std::string_view(list) == "context" ||
                                claim.value("level", "") == "allocation";
            if (wanted && claim.contains(list)) mark_named_cells(claim[list]);
        }
    }
    return out;
}

std::map<std::string, unsigned> next_round(const fs::path& out, const std::string& claims_file,
                                           const std::atomic<bool>& stop, std::string& note) {
    const fs::path evaluator = fs::path(ALLOCPROOF_SOURCE_DIR) / "harness" / "report" / "verdicts.py";
    std::map<std::string, unsigned> targets;
    if (!fs::exists(evaluator)) {
        note = fmt::format("no adaptive rounds: the claims evaluator {} is not there", evaluator.string());
        return targets;
    }
    // The evaluator's intervals come from this very driver (`allocproof interval`).
    std::error_code error;
    const auto self = fs::read_symlink("/proc/self/exe", error);
    if (!error) ::setenv("ALLOCPROOF_DRIVER", self.c_str(), 1);
    const auto outcome = run_child(
        {"/usr/bin/python3", evaluator.string(), out.string(), "--claims", claims_file, "--plan-round", "--quiet"},
        std::chrono::minutes(5), stop);
    const json answer = json::parse(outcome.out, nullptr, false);
    if (outcome.exit_code != 0 || answer.is_discarded() || !answer.contains("cells") || !answer["cells"].is_object()) {
        note = fmt::format("no more adaptive rounds: the claims evaluator failed (exit {}): {}", outcome.exit_code,
                           outcome.err.substr(0, 300));
        return targets;
    }
    for (const auto& [id, reps] : answer["cells"].items()) {
        if (reps.is_number_unsigned()) targets[id] = reps.get<unsigned>();
    }
    return targets;
}

}  // namespace allocproof::driver
