#include "harness/driver/results.hpp"

#include "harness/driver/cell_kind.hpp"
#include "harness/driver/metric_catalogue.hpp"

#include "allocproof/exit_codes.hpp"

#include "allocproof/latency_histogram.hpp"
#include "harness/stats.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <stdexcept>

namespace allocproof::driver {

using json = nlohmann::json;

namespace {

// ---- one repetition ----------------------------------------------------------------------------

std::string last_line(const std::string& text) {
    auto end = text.find_last_not_of(" \n\r\t");
    if (end == std::string::npos) return {};
    auto start = text.rfind('\n', end);
    start = start == std::string::npos ? 0 : start + 1;
    return text.substr(start, std::min<std::size_t>(end - start + 1, 500));
}

std::string failure_reason(const child_outcome& outcome) {
    std::string detail = last_line(outcome.err);
    std::string suffix = detail.empty() ? "" : ": " + detail;
    if (!outcome.started) return "could not start the cell program" + suffix;
    if (outcome.timed_out) return fmt::format("timed out after {:.1f} s", outcome.seconds);
    if (outcome.signal != 0) return "crashed with " + signal_name(outcome.signal) + suffix;
    if (outcome.exit_code == exit_codes::cell::allocator_mismatch) return "allocator mismatch" + suffix;
    if (outcome.exit_code == exit_codes::cell::out_of_memory) return "out of memory" + suffix;
    if (outcome.exit_code == exit_codes::cell::conformance_failed && detail.starts_with("allocproof-cell: ")) {
        return detail.substr(std::string_view("allocproof-cell: ").size());  // "conformance check failed: <check>: ..."
    }
    return fmt::format("exited with code {}{}", outcome.exit_code, suffix);
}

std::uint64_t field(const json& j, const char* key) {
    const json& v = j.at(key);
    if (!v.is_number_unsigned()) {
        throw std::runtime_error(fmt::format("'{}' is not a non-negative integer", key));
    }
    return v.get<std::uint64_t>();
}

json optional_per_op(const json& m, const char* key, double ops) {
    const json& v = m.at(key);
    return v.is_null() ? json(nullptr) : json(static_cast<double>(v.get<std::uint64_t>()) / ops);
}

// The metrics every repetition carries; SCHEMA.md lists them with their units.
json derive_metrics(const json& m) {
    const double threads = static_cast<double>(field(m, "threads"));
    const double ops_per_thread = static_cast<double>(field(m, "ops_per_thread"));
    const double ops = ops_per_thread * threads;
    const double wall_ns = static_cast<double>(field(m, "wall_ns"));
    if (ops <= 0 || wall_ns <= 0) throw std::runtime_error("no operations or no time measured");

    const json& latency = m.at("latency");
    std::vector<std::uint64_t> buckets(latency_histogram::bucket_count, 0);
    for (const auto& pair : latency.at("buckets")) {
        auto index = pair.at(0).get<std::size_t>();
        if (index >= buckets.size()) throw std::runtime_error("latency bucket out of range");
        buckets[index] = pair.at(1).get<std::uint64_t>();
    }
    const std::uint64_t latency_max = field(latency, "max_ns");
    auto percentile = [&](double q) { return latency_histogram::percentile_of(buckets, latency_max, q); };

    const double live = static_cast<double>(field(m, "live_bytes_peak"));
    const double rss_growth =
        static_cast<double>(field(m, "rss_peak_bytes")) - static_cast<double>(field(m, "rss_before_setup_bytes"));
    const json& rss_timeline = m.contains("timeline") ? m["timeline"].value("rss_bytes", json::array()) : json::array();
    const bool has_growth = live > 0 && rss_timeline.is_array() && rss_timeline.size() >= 2;
    const json peak_of_measure = m.value("rss_peak_of_measure_bytes", json(nullptr));
    json metrics = {
        {"ns_per_op", wall_ns / ops_per_thread},
        {"phase_ms", wall_ns / 1e6},
        {"ops_per_sec", ops / (wall_ns / 1e9)},
        {"cpu_ns_per_op", static_cast<double>(field(m, "cpu_ns")) / ops},
        {"latency_p50_ns", percentile(0.50)},
        {"latency_p90_ns", percentile(0.90)},
        {"latency_p99_ns", percentile(0.99)},
        {"latency_p999_ns", percentile(0.999)},
        {"latency_max_ns", latency_max},
        {"alloc_calls", field(m, "alloc_calls")},
        {"free_calls", field(m, "free_calls")},
        {"alloc_calls_per_op", static_cast<double>(field(m, "alloc_calls")) / ops},
        {"bytes_requested", field(m, "bytes_requested")},
        {"rss_peak_bytes", field(m, "rss_peak_bytes")},
        {"rss_final_bytes", field(m, "rss_final_bytes")},
        {"live_bytes_peak", field(m, "live_bytes_peak")},
        {"memory_held_ratio", live > 0 ? json(rss_growth / live) : json(nullptr)},
        {"instructions_per_op", optional_per_op(m, "instructions", ops)},
        {"cycles_per_op", optional_per_op(m, "cycles", ops)},
        // Absent from the records of cells built before workloads counted their copies.
        {"bytes_copied_per_op", m.contains("bytes_copied") ? optional_per_op(m, "bytes_copied", ops) : json(nullptr)},
        {"probe_fraction", m.at("probe_cost").at("estimated_fraction_of_cpu").get<double>()},
        // Left allocated when the cell ended (cell.hpp); bytes are a lower bound, never below 0.
        {"leaked_blocks", m.value("leaked_blocks", std::int64_t{0})},
        {"leaked_bytes", std::max<std::int64_t>(0, m.value("leaked_bytes", std::int64_t{0}))},
        {"memory_held_bytes", static_cast<double>(field(m, "rss_end_of_measure_bytes")) -
                                  static_cast<double>(field(m, "rss_before_setup_bytes"))},
        {"memory_peak_held_bytes",
         peak_of_measure.is_number_unsigned()
             ? json(peak_of_measure.get<double>() - static_cast<double>(field(m, "rss_before_setup_bytes")))
             : json(nullptr)},
        {"memory_overhead_bytes",
         peak_of_measure.is_number_unsigned() && live > 0
             ? json(peak_of_measure.get<double>() - static_cast<double>(field(m, "rss_before_setup_bytes")) - live)
             : json(nullptr)},
        {"global_bytes_held_peak", m.value("global_bytes_held_peak", json(nullptr))},
        // What the measured phase's clock does not see (cell.hpp); null in records from before them.
        {"setup_ns", field(m, "setup_ns")},
        {"teardown_ns", m.value("teardown_ns", json(nullptr))},
        {"process_cpu_ns", m.value("process_cpu_ns", json(nullptr))},
        {"rss_unexplained_bytes", m.value("rss_unexplained_bytes", json(nullptr))},
        {"churn_growth", has_growth
                             ? json((rss_timeline.back().get<double>() - rss_timeline.front().get<double>()) / live)
                             : json(nullptr)},
    };
    // Derived here and nowhere else, under exactly the names the catalogue lists.
    if (metrics.size() != metric_names("model").size() ||
        !std::ranges::all_of(metric_names("model"), [&](const std::string& n) { return metrics.contains(n); })) {
        throw std::logic_error("the metrics derived for a cell differ from results/metrics.json");
    }
    return metrics;
}

// The allocator's identity as far as it decides anything: the evidence is prose.
bool same_identity(const json& reported, const json& confirmed) {
    for (const char* key : {"name", "version", "malloc_provider", "serves_malloc"}) {
        if (!reported.contains(key) || !confirmed.contains(key) || reported.at(key) != confirmed.at(key)) return false;
    }
    return true;
}

// Why a well-formed record cannot be what the child did ("" when it can).
std::string implausibility(const json& m, const json& identity, const child_outcome& outcome,
                           const json& confirmed_identity) {
    if (confirmed_identity.is_null() || confirmed_identity.contains("error")) {
        return "the driver could not confirm the cell program's allocator: " +
               (confirmed_identity.is_null() ? std::string("it was not asked") : confirmed_identity["error"].dump());
    }
    if (!same_identity(identity, confirmed_identity)) {
        return fmt::format(
            "the record names the allocator {}, but the cell program, run without plugins, "
            "identified it as {}",
            identity.dump(), confirmed_identity.dump());
    }
    auto bound = [](double observed) {
        return observed + observation_slack_seconds + observation_slack_fraction * observed;
    };
    const double reported_wall = static_cast<double>(field(m, "setup_ns") + field(m, "wall_ns")) / 1e9;
    if (reported_wall > bound(outcome.seconds)) {
        return fmt::format(
            "the record's setup and measured phase took {:.3f} s, but the cell program ran for "
            "{:.3f} s from start to exit",
            reported_wall, outcome.seconds);
    }
    const double reported_cpu = static_cast<double>(field(m, "cpu_ns")) / 1e9;
    if (outcome.cpu_seconds < 0) return "the driver could not read the cell program's CPU time";
    if (reported_cpu > bound(outcome.cpu_seconds)) {
        return fmt::format(
            "the record's workers used {:.3f} s of CPU, but the kernel accounted {:.3f} s to the "
            "whole cell program",
            reported_cpu, outcome.cpu_seconds);
    }
    return {};
}

}  // namespace

json repetition_record(const planned_cell& cell, const run_slot& slot, std::size_t order, const child_outcome& outcome,
                       const json& confirmed_identity) {
    json record = {{"rep", slot.rep},
                   {"order", order},
                   {"status", "failed"},
                   {"reason", nullptr},
                   {"seconds", outcome.seconds},
                   {"digest", nullptr},
                   {"metrics", nullptr},
                   {"allocator_identity", nullptr},
                   {"raw", nullptr}};
    if (!outcome.started || outcome.timed_out || outcome.signal != 0 || outcome.exit_code != 0) {
        record["reason"] = failure_reason(outcome);
        // The strategy broke its contract: the cell did not fail, its strategy is not what it says.
        if (outcome.started && !outcome.timed_out && outcome.signal == 0 &&
            outcome.exit_code == exit_codes::cell::conformance_failed) {
            record["status"] = "invalid";
        }
        return record;
    }
    try {
        json parsed = json::parse(outcome.out);
        if (!parsed.is_object() || parsed.value("schema", "") != "allocproof-cell/1") {
            throw std::runtime_error("not an allocproof-cell/1 record");
        }
        // A healthy cell program under the wrong allocator exits 3 before it prints a record: a
        // record naming another allocator is checked, and refused, with the rest of its identity.
        const json& identity = parsed.at("allocator");
        const json& m = parsed.at("measurement");
        if (field(m, "threads") != cell.threads || field(m, "ops_per_thread") != cell.params.scale.ops_per_thread) {
            throw std::runtime_error("the record is for another cell");
        }
        record["metrics"] = derive_metrics(m);
        record["digest"] = m.at("digest").get<std::string>();
        record["allocator_identity"] = identity;
        record["probe_cost"] = m.at("probe_cost");
        record["raw"] = m;
        record["observed"] = {{"wall_seconds", outcome.seconds},
                              {"cpu_seconds", outcome.cpu_seconds < 0 ? json(nullptr) : json(outcome.cpu_seconds)}};
        const std::string doubt = implausibility(m, identity, outcome, confirmed_identity);
        record["status"] = doubt.empty() ? "ok" : "implausible";
        if (!doubt.empty()) record["reason"] = doubt;
    } catch (const std::exception& error) {
        record["reason"] =
            fmt::format("malformed output from the cell ({}): {}", error.what(), outcome.out.substr(0, 200));
        record["metrics"] = nullptr;
    }
    return record;
}

// ---- aggregation --------------------------------------------------------------------------------

bool is_reference_cell(const planned_cell& c) { return kind_of(c).is_reference(c); }

namespace {

// The reference cell a cell's ratios are taken to (cell_kind::reference_key).
std::string reference_key(const planned_cell& c) { return kind_of(c).reference_key(c); }

// Repetitions of one cell whose status is ok.
std::vector<const json*> ok_records(const std::vector<json>& records) {
    std::vector<const json*> ok;
    for (const auto& r : records) {
        if (r.at("status") == "ok") ok.push_back(&r);
    }
    return ok;
}

std::vector<double> metric_values(const std::vector<const json*>& records, const std::string& metric) {
    std::vector<double> values;
    for (const json* r : records) {
        // A metric added after the record was made (a resumed older run) is simply absent.
        const json& metrics = r->at("metrics");
        auto v = metrics.find(metric);
        if (v != metrics.end() && v->is_number()) values.push_back(v->get<double>());
    }
    return values;
}

// Cells that must compute the same thing: same workload, thread count and parameters.
std::string digest_group(const planned_cell& c) {
    const auto& s = c.params.scale;
    return fmt::format("{}|t{}|{}|{}|{}|{}", c.workload, c.threads, s.ops_per_thread, s.working_set, s.warmup_ops,
                       c.params.seed);
}

// What every cell of a digest group must show: its reference cells' most common digest. A group
// without one (its reference failed, has not run, or is not in it) has a reason instead: its
// digests are left unverified, never settled by a vote of the cells under test.
struct group_reference {
    std::string digest;  // "" when there is none
    std::string missing_because;
};
std::map<std::string, group_reference> reference_digests(const plan& p, const std::vector<std::vector<json>>& records) {
    std::map<std::string, std::map<std::string, int>> votes;
    std::map<std::string, bool> has_reference_cell, reference_ran;
    for (std::size_t i = 0; i < p.cells.size(); ++i) {
        const std::string group = digest_group(p.cells[i]);
        if (!is_reference_cell(p.cells[i])) continue;
        has_reference_cell[group] = true;
        if (!records[i].empty()) reference_ran[group] = true;
        for (const json* r : ok_records(records[i])) {
            if (!r->at("digest").is_null()) ++votes[group][r->at("digest").get<std::string>()];
        }
    }
    std::map<std::string, group_reference> reference;
    for (const auto& cell : p.cells) {
        const std::string group = digest_group(cell);
        if (reference.contains(group)) continue;
        const std::string who(kind_of(cell).reference_name());
        group_reference& r = reference[group];
        if (votes.contains(group)) {
            r.digest = std::ranges::max_element(votes[group], [](const auto& a, const auto& b) {
                           return a.second < b.second;
                       })->first;
        } else if (!has_reference_cell[group]) {
            r.missing_because = fmt::format("{} is not in this group", who);
        } else if (!reference_ran[group]) {
            r.missing_because = fmt::format("{} has not run yet", who);
        } else {
            r.missing_because = fmt::format("{} failed or gave no digest in this group", who);
        }
    }
    return reference;
}

// A ratio to the baseline cell with its 95% interval (stats::ratio_interval). With one repetition
// on a side, or a value that is not positive, there is no interval: the ratio of medians alone.
json ratio_json(std::span<const double> candidate, std::span<const double> baseline) {
    const bool positive = std::ranges::all_of(candidate, [](double v) { return v > 0; }) &&
                          std::ranges::all_of(baseline, [](double v) { return v > 0; });
    if (candidate.size() < 2 || baseline.size() < 2 || !positive) {
        return {{"estimate", stats::median(candidate) / stats::median(baseline)},
                {"ci_low", nullptr},
                {"ci_high", nullptr}};
    }
    const auto ci = stats::ratio_interval(candidate, baseline);
    return {{"estimate", ci.estimate}, {"ci_low", ci.low}, {"ci_high", ci.high}};
}

// A cell's planned repetitions: those the schedule holds for it (with --claims, the claims' cells
// get rounds of their own and the rest of the matrix what the budget leaves), --reps before the
// schedule has any.
std::vector<unsigned> planned_repetitions(const plan& p) {
    std::vector<unsigned> planned(p.cells.size(), 0);
    for (const auto& slot : p.schedule) planned[slot.cell] = std::max(planned[slot.cell], slot.rep + 1);
    for (auto& n : planned) {
        if (n == 0) n = p.reps;
    }
    return planned;
}

std::string cell_status(const std::vector<json>& records, unsigned planned, const group_reference& expected) {
    const auto ok = ok_records(records);
    auto count = [&](const char* wanted) {
        return std::ranges::count_if(records, [&](const json& r) { return r.at("status") == wanted; });
    };
    const auto failed = count("failed"), implausible = count("implausible"), broke_contract = count("invalid");
    const bool not_applicable =
        !records.empty() && ok.empty() && failed == 0 && implausible == 0 && broke_contract == 0;
    const bool has_digest = std::ranges::any_of(ok, [](const json* r) { return !r->at("digest").is_null(); });
    const bool digest_mismatch = !expected.digest.empty() && std::ranges::any_of(ok, [&](const json* r) {
        return !r->at("digest").is_null() && r->at("digest").get<std::string>() != expected.digest;
    });
    return implausible > 0                         ? "implausible"
           : failed > 0                            ? "failed"
           : broke_contract > 0                    ? "invalid"
           : not_applicable                        ? "not_applicable"
           : digest_mismatch                       ? "invalid"
           : records.size() < planned              ? "pending"
           : has_digest && expected.digest.empty() ? "unverified"
                                                   : "ok";
}

// Why a cell is not ok: its first record of that status, or what its digest was checked against.
json cell_reason(const planned_cell& c, const json& cell, const std::vector<json>& records,
                 const group_reference& expected) {
    const std::string& status = cell["status"].get_ref<const std::string&>();
    for (const auto& r : records) {
        // An invalid cell is so by a record (a broken contract) or by its digest (below).
        if (r.at("status") == status && status != "ok") return r.at("reason");
    }
    if (status == "invalid") {
        return fmt::format("digest {} differs from the reference {} computed by {} in this group",
                           cell["digest"].get<std::string>(), expected.digest, kind_of(c).reference_name());
    }
    if (status == "unverified") {
        return fmt::format("no reference digest to check {} against: {}", cell["digest"].get<std::string>(),
                           expected.missing_because);
    }
    return nullptr;
}

}  // namespace

json summarize_metrics(const std::vector<std::string>& names, const std::vector<const json*>& ok) {
    json metrics = json::object();
    for (const auto& name : names) {
        auto values = metric_values(ok, name);
        if (values.empty()) {
            metrics[name] = nullptr;
            continue;
        }
        auto s = stats::summarize(values);
        metrics[name] = {{"median", s.median}, {"min", s.min}, {"max", s.max}, {"cv", s.cv}, {"n", s.n}};
    }
    return metrics;
}

namespace {

json ratios_to_reference(const planned_cell& c, const std::vector<const json*>& ok,
                         const std::vector<const json*>& reference_ok) {
    json ratios = json::object();
    for (const auto& name : ratio_metric_names(kind_of(c).catalogue_key())) {
        auto candidate = metric_values(ok, name);
        auto baseline = metric_values(reference_ok, name);
        const bool comparable = !candidate.empty() && !baseline.empty() && stats::median(baseline) != 0;
        ratios[name] = comparable ? ratio_json(candidate, baseline) : json(nullptr);
    }
    return ratios;
}

json cell_header(const planned_cell& c, const std::string& status, unsigned planned, const std::vector<json>& records,
                 std::size_t ok_count) {
    return {{"id", c.id()},
            {"workload", c.workload},
            {"strategy", c.strategy},
            {"allocator", c.allocator},
            {"threads", c.threads},
            {"status", status},
            {"reason", nullptr},
            {"reps_planned", planned},
            {"reps_done", records.size()},
            {"reps_ok", ok_count}};
}

// One cell of results.json. `reference_ok`: the ok repetitions of its reference cell when both
// are ok (then the cell has ratios to it), else null.
json aggregate_cell(const planned_cell& c, const std::vector<json>& records, const std::string& status,
                    unsigned planned, const group_reference& expected, const std::vector<const json*>* reference_ok,
                    const aggregation_settings& settings) {
    const auto ok = ok_records(records);
    const cell_kind& kind = kind_of(c);
    json cell = cell_header(c, status, planned, records, ok.size());
    kind.describe(c, settings, cell);  // params, and a program's `external` block
    cell["reference_digest"] = expected.digest.empty() ? json(nullptr) : json(expected.digest);
    cell["added_as_reference"] = c.added_as_reference;
    cell["digest"] = ok.empty() ? json(nullptr) : ok.front()->at("digest");
    cell["reason"] = cell_reason(c, cell, records, expected);
    cell["allocator_identity"] = ok.empty() ? json(nullptr) : ok.front()->at("allocator_identity");
    json metrics = summarize_metrics(kind.metric_names_of(ok), ok);
    cell["metrics"] = metrics;
    // Memory left allocated at the end: a leak, or memory a strategy keeps for the process's
    // lifetime (boost's singleton pools). Reported, not a failure: the figures stay right.
    cell["leaked"] = metrics.contains("leaked_blocks") && !metrics["leaked_blocks"].is_null() &&
                     metrics["leaked_blocks"]["max"].get<double>() > 0;
    const std::string noise_metric(kind.noise_metric());
    cell["noisy"] =
        !metrics[noise_metric].is_null() && metrics[noise_metric]["cv"].get<double>() > settings.noise_threshold;
    cell["ratio_to_std"] = nullptr;  // a real program has ratios to glibc instead
    cell[std::string(kind.ratio_key())] = reference_ok ? ratios_to_reference(c, ok, *reference_ok) : json(nullptr);
    cell["repetitions"] = records;
    return cell;
}

}  // namespace

json aggregate_cells(const plan& p, const std::vector<std::vector<json>>& records,
                     const aggregation_settings& settings) {
    const auto reference = reference_digests(p, records);
    const auto planned = planned_repetitions(p);
    std::map<std::string, std::size_t> reference_cell;  // reference_key -> cell index
    std::vector<std::string> status(p.cells.size());
    // First, every cell's status, so that ratios use only trustworthy reference cells.
    for (std::size_t i = 0; i < p.cells.size(); ++i) {
        if (is_reference_cell(p.cells[i])) reference_cell[reference_key(p.cells[i])] = i;
        status[i] = cell_status(records[i], planned[i], reference.at(digest_group(p.cells[i])));
    }
    json cells = json::array();
    for (std::size_t i = 0; i < p.cells.size(); ++i) {
        const auto& c = p.cells[i];
        const auto base = reference_cell.find(reference_key(c));
        std::optional<std::vector<const json*>> reference_ok;
        if (!is_reference_cell(c) && base != reference_cell.end() && status[i] == "ok" &&
            status[base->second] == "ok") {
            reference_ok = ok_records(records[base->second]);
        }
        cells.push_back(aggregate_cell(c, records[i], status[i], planned[i], reference.at(digest_group(c)),
                                       reference_ok ? &*reference_ok : nullptr, settings));
    }
    return cells;
}

}  // namespace allocproof::driver
