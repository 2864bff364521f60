#include "harness/driver/compare.hpp"

#include "harness/driver/cell_kind.hpp"
#include "harness/driver/metric_catalogue.hpp"
#include "harness/driver/results_file.hpp"
#include "harness/stats.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <map>
#include <optional>

namespace allocproof::driver {

namespace fs = std::filesystem;
using json = nlohmann::json;

// ---- matching and testing -----------------------------------------------------------------------

namespace {

struct cell_key {
    long long machine = 0;
    std::string id;
    auto operator<=>(const cell_key&) const = default;
};

struct run_cells {
    fs::path file;
    json document;
    std::vector<cell_key> order;  // as in the file
    std::map<cell_key, const json*> by_key;
};

run_cells index_cells(const std::string& given) {
    run_cells run;
    run.document = load_results(given, &run.file);  // which checks every cell's id, status and machine
    const json& cells = run.document.at("cells");
    for (std::size_t i = 0; i < cells.size(); ++i) {
        const cell_key key{cells[i].value("machine", 0LL), cells[i].at("id").get<std::string>()};
        if (!run.by_key.emplace(key, &cells[i]).second) {
            throw usage_error(fmt::format("{} is malformed: cells[{}] repeats cell {} of machine {}", run.file.string(),
                                          i, key.id, key.machine));
        }
        run.order.push_back(key);
    }
    return run;
}

std::vector<double> repetition_values(const json& cell, const std::string& metric) {
    std::vector<double> values;
    for (const json& rep : cell.at("repetitions")) {
        if (!rep.is_object() || rep.value("status", "") != "ok") continue;
        auto metrics = rep.find("metrics");
        if (metrics == rep.end() || !metrics->is_object()) continue;
        auto value = metrics->find(metric);
        if (value != metrics->end() && value->is_number()) values.push_back(value->get<double>());
    }
    return values;
}

// A metric some kind of cell has (cell_kind::has_metric).
void check_metric_name(const std::string& metric) {
    const auto& kinds = cell_kinds();
    if (std::ranges::any_of(kinds, [&](const cell_kind* kind) { return kind->has_metric(metric); })) return;
    std::vector<std::string> known;
    for (const cell_kind* kind : kinds) known.push_back(fmt::format("{}: {}", kind->label(), kind->metric_help()));
    throw usage_error(fmt::format("--metric: unknown metric '{}' ({})", metric, fmt::join(known, "; ")));
}

enum class verdict { regression, improvement, unchanged, untestable, untestable_change, no_values };

const char* verdict_name(verdict v) {
    switch (v) {
        case verdict::regression:
            return "regression";
        case verdict::improvement:
            return "improvement";
        case verdict::unchanged:
            return "unchanged";
        case verdict::untestable:
            return "untestable";
        case verdict::untestable_change:
            return "untestable_change";
        case verdict::no_values:
            return "no_values";
    }
    return "?";
}

struct comparison {
    cell_key key;
    std::string metric;
    std::size_t n_a = 0, n_b = 0;
    double median_a = 0, median_b = 0;
    std::optional<double> change;  // (median B - median A) / |median A|; none when A's median is 0 and B's not
    double worsening = 0;          // the change turned so that positive is worse; +-inf from a zero median
    std::optional<double> p;       // none without values on both sides
    double min_p = 1;
    // The change's 95% interval, B / A - 1 of the typical values (stats::ratio_interval, the
    // method of every interval the project prints); none below 2 values a side or at values <= 0.
    std::optional<std::pair<double, double>> change_ci;
    verdict outcome = verdict::no_values;
    // Counts of a deterministic kind, the same in every repetition of each side: judged by the size
    // of the change alone (cell_kind::deterministic), with no p.
    bool exact = false;
};

bool all_equal(const std::vector<double>& values) {
    return std::ranges::all_of(values, [&](double v) { return v == values.front(); });
}

comparison compare_cell(const cell_key& key, const std::string& metric, const json& a, const json& b,
                        const compare_options& options) {
    comparison c;
    c.key = key;
    c.metric = metric;
    const auto values_a = repetition_values(a, metric), values_b = repetition_values(b, metric);
    c.n_a = values_a.size();
    c.n_b = values_b.size();
    if (values_a.empty() || values_b.empty()) return c;
    c.median_a = stats::median(values_a);
    c.median_b = stats::median(values_b);
    const double sign = higher_is_better(metric) ? -1 : 1;
    if (c.median_a != 0) {
        c.change = (c.median_b - c.median_a) / std::fabs(c.median_a);
        c.worsening = sign * *c.change;
    } else if (c.median_b == 0) {
        c.change = 0.0;
    } else {
        c.worsening = sign * (c.median_b > 0 ? 1 : -1) * std::numeric_limits<double>::infinity();
    }
    const bool beyond = std::fabs(c.worsening) > options.threshold;
    // A deterministic count changes only with the build: its size is the whole story. Repetitions
    // of one side that differ were not deterministic after all, and are tested as any others.
    if (kind_of(a).deterministic() && kind_of(b).deterministic() && all_equal(values_a) && all_equal(values_b)) {
        c.exact = true;
        c.outcome = !beyond ? verdict::unchanged : c.worsening > 0 ? verdict::regression : verdict::improvement;
        return c;
    }
    c.p = stats::mann_whitney(values_a, values_b).p;
    const auto positive = [](const std::vector<double>& v) {
        return std::ranges::all_of(v, [](double x) { return x > 0; });
    };
    if (c.n_a >= 2 && c.n_b >= 2 && positive(values_a) && positive(values_b)) {
        const auto ci = stats::ratio_interval(values_b, values_a);
        c.change_ci = std::pair{ci.low - 1, ci.high - 1};
    }
    c.min_p = stats::mann_whitney_min_p(c.n_a, c.n_b);
    if (c.min_p >= options.alpha) {
        // Whatever the data, this test cannot reject at alpha: silence here is not evidence.
        c.outcome = beyond ? verdict::untestable_change : verdict::untestable;
    } else if (*c.p < options.alpha && beyond) {
        c.outcome = c.worsening > 0 ? verdict::regression : verdict::improvement;
    } else {
        c.outcome = verdict::unchanged;
    }
    return c;
}

// The fewest repetitions per side (equal sides) with which a test at `alpha` can reject at all.
std::optional<std::size_t> repetitions_needed(double alpha) {
    for (std::size_t n = 2; n <= 200; ++n) {
        if (stats::mann_whitney_min_p(n, n) < alpha) return n;
    }
    return std::nullopt;
}

std::string needs_text(double alpha) {
    auto n = repetitions_needed(alpha);
    return n ? fmt::format("needs >= {} per side for alpha {}", *n, alpha)
             : fmt::format("alpha {} needs more than 200 per side", alpha);
}

// ---- the report ---------------------------------------------------------------------------------

// Four significant digits, but whole numbers in full up to a billion: 10401 ns, not 1.04e+04.
std::string number(double v) {
    return std::fabs(v) >= 1000 && std::fabs(v) < 1e9 ? fmt::format("{:.0f}", v) : fmt::format("{:.4g}", v);
}

std::string percent(const comparison& c) {
    if (!c.change) return c.median_b > 0 ? "from 0 up" : "from 0 down";
    return fmt::format("{:+.1f}%", *c.change * 100);
}

// Columns padded to their widest entry; the names (cell, metric) left-aligned, numbers right-aligned.
std::string table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> width(header.size());
    for (std::size_t i = 0; i < header.size(); ++i) {
        width[i] = header[i].size();
        for (const auto& row : rows) width[i] = std::max(width[i], row[i].size());
    }
    std::string out;
    auto line = [&](const std::vector<std::string>& cells) {
        out += "  ";
        for (std::size_t i = 0; i < cells.size(); ++i) {
            if (i > 0) out += "  ";
            out += i < 2 ? fmt::format("{:<{}}", cells[i], width[i]) : fmt::format("{:>{}}", cells[i], width[i]);
        }
        out += "\n";
    };
    line(header);
    for (const auto& row : rows) line(row);
    return out;
}

// Up to `shown` names, then how many more: a CI log stays readable; --json has them all.
std::string some_of(const std::vector<std::string>& names, std::size_t shown = 10) {
    std::vector<std::string> head(names.begin(),
                                  names.begin() + static_cast<std::ptrdiff_t>(std::min(shown, names.size())));
    std::string out = fmt::format("{}", fmt::join(head, ", "));
    if (names.size() > shown) out += fmt::format(", and {} more (--json lists them all)", names.size() - shown);
    return out;
}

std::string run_line(const run_cells& run) {
    const json env = run.document.value("environment", json::object());
    std::string commit = env.value("git_commit", json(nullptr)).is_string()
                             ? env["git_commit"].get<std::string>().substr(0, 7)
                             : "unknown commit";
    return fmt::format("{} ({}, {} cells, {}, {})", run.file.string(), run.document.value("status", "no status"),
                       run.order.size(), commit, env.value("time", "no time"));
}

struct outcome_counts {
    std::map<verdict, std::size_t> by_verdict;
    std::size_t untestable_worse = 0;  // untestable changes that go the wrong way
    std::size_t count(verdict v) const { return by_verdict.contains(v) ? by_verdict.at(v) : 0; }
    std::size_t tested() const {
        return count(verdict::regression) + count(verdict::improvement) + count(verdict::unchanged);
    }
};

json to_json(const cell_key& key) { return {{"id", key.id}, {"machine", key.machine}}; }

json to_json(const comparison& c) {
    auto finite_or_null = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
    const bool values = c.n_a > 0 && c.n_b > 0;
    json j = to_json(c.key);
    j.update({{"metric", c.metric},
              {"better", higher_is_better(c.metric) ? "higher" : "lower"},
              {"verdict", verdict_name(c.outcome)},
              {"n_a", c.n_a},
              {"n_b", c.n_b},
              {"median_a", values ? json(c.median_a) : json(nullptr)},
              {"median_b", values ? json(c.median_b) : json(nullptr)},
              {"change", c.change ? json(*c.change) : json(nullptr)},
              {"change_ci", c.change_ci ? json::array({c.change_ci->first, c.change_ci->second}) : json(nullptr)},
              {"worsening", values ? finite_or_null(c.worsening) : json(nullptr)},
              {"p", c.p ? json(*c.p) : json(nullptr)},
              {"min_p", c.exact ? json(nullptr) : json(c.min_p)},
              {"exact", c.exact}});
    return j;
}

// Which cells of A and B can be compared, and why the others cannot.
struct matching {
    std::vector<cell_key> matched, only_a, only_b;
    json not_ok = json::array();         // {id, machine, status_a, status_b}
    json params_differ = json::array();  // {id, machine, params_a, params_b}
    bool several_machines = false;
};

matching match_cells(const run_cells& a, const run_cells& b) {
    matching m;
    for (const auto& key : a.order) {
        m.several_machines |= key.machine != 0;
        auto other = b.by_key.find(key);
        if (other == b.by_key.end()) {
            m.only_a.push_back(key);
            continue;
        }
        const json &cell_a = *a.by_key.at(key), &cell_b = *other->second;
        const json params_a = cell_a.value("params", json(nullptr)), params_b = cell_b.value("params", json(nullptr));
        json entry = to_json(key);
        if (params_a != params_b) {
            // Another size or seed is another benchmark: its times say nothing about a regression.
            entry.update({{"params_a", params_a}, {"params_b", params_b}});
            m.params_differ.push_back(entry);
        } else if (cell_a.at("status") == "ok" && cell_b.at("status") == "ok") {
            m.matched.push_back(key);
        } else {
            entry.update({{"status_a", cell_a.at("status")}, {"status_b", cell_b.at("status")}});
            m.not_ok.push_back(entry);
        }
    }
    for (const auto& key : b.order) {
        m.several_machines |= key.machine != 0;
        if (!a.by_key.contains(key)) m.only_b.push_back(key);
    }
    return m;
}

struct comparison_result {
    matching cells;
    std::vector<comparison> comparisons;  // matched cells x metrics, in A's order
    outcome_counts counts;
    int exit_code = 0;
    std::string warning;  // set when nothing could be tested
};

comparison_result compare_runs(const run_cells& a, const run_cells& b, const compare_options& options) {
    comparison_result r;
    r.cells = match_cells(a, b);
    for (const auto& key : r.cells.matched) {
        for (const auto& metric : options.metrics) {
            const comparison& c =
                r.comparisons.emplace_back(compare_cell(key, metric, *a.by_key.at(key), *b.by_key.at(key), options));
            ++r.counts.by_verdict[c.outcome];
            if (c.outcome == verdict::untestable_change && c.worsening > 0) ++r.counts.untestable_worse;
        }
    }
    const bool fails =
        r.counts.count(verdict::regression) > 0 || (options.fail_on_untestable && r.counts.untestable_worse > 0);
    r.exit_code = fails ? exit_regression : exit_ok;
    if (r.cells.matched.empty()) {
        r.warning = "no cell is ok in both A and B: nothing was compared";
    } else if (r.counts.tested() == 0) {
        r.warning = fmt::format(
            "no comparison could be tested at alpha {:g}: every matched cell has too few "
            "repetitions or no values; this compare cannot detect a regression ({})",
            options.alpha, needs_text(options.alpha));
    }
    return r;
}

// How the report names a cell: with its machine when the runs hold several.
std::string cell_label(const comparison_result& r, const cell_key& key) {
    return r.cells.several_machines ? fmt::format("{} @machine {}", key.id, key.machine) : key.id;
}

const std::vector<std::string> comparison_header{"cell", "metric", "median A", "median B", "change", "p", "n"};

std::vector<std::string> comparison_row(const comparison_result& r, const comparison& c) {
    return {cell_label(r, c.key),
            c.metric,
            number(c.median_a),
            number(c.median_b),
            percent(c),
            c.p ? fmt::format("{:.2g}", *c.p) : std::string("exact"),
            fmt::format("{} vs {}", c.n_a, c.n_b)};
}

std::string threshold_text(const compare_options& options) { return fmt::format("{:g}%", options.threshold * 100); }

std::string report_heading(const run_cells& a, const run_cells& b, const compare_options& options) {
    std::vector<std::string> metric_texts;
    for (const auto& m : options.metrics) {
        metric_texts.push_back(fmt::format("{} ({} is better)", m, higher_is_better(m) ? "higher" : "lower"));
    }
    return fmt::format(
        "A: {}\nB: {}\nmetrics: {}; a change counts when two-sided Mann-Whitney p < {:g} and the "
        "median moved by more than {} (counted cells, the same on every run: when the count moved by more "
        "than {}, p shown as 'exact')\n",
        run_line(a), run_line(b), fmt::join(metric_texts, ", "), options.alpha, threshold_text(options),
        threshold_text(options));
}

std::string significant_changes(const comparison_result& r) {
    std::string out;
    for (auto [v, title] : {std::pair{verdict::regression, "Significant regressions"},
                            std::pair{verdict::improvement, "Significant improvements"}}) {
        std::vector<std::vector<std::string>> rows;
        for (const auto& c : r.comparisons) {
            if (c.outcome == v) rows.push_back(comparison_row(r, c));
        }
        out += rows.empty() ? fmt::format("\n{}: none\n", title)
                            : fmt::format("\n{} ({}):\n{}", title, rows.size(), table(comparison_header, rows));
    }
    return out;
}

// Too few repetitions: one line per pair of sample sizes (the cells themselves are in --json),
// then the changes beyond the threshold that they cannot tell from noise.
std::string untestable_changes(const comparison_result& r, const compare_options& options) {
    std::map<std::pair<std::size_t, std::size_t>, std::size_t> underpowered;
    std::vector<std::vector<std::string>> moved;
    for (const auto& c : r.comparisons) {
        if (c.outcome != verdict::untestable && c.outcome != verdict::untestable_change) continue;
        ++underpowered[{c.n_a, c.n_b}];
        if (c.outcome == verdict::untestable_change) {
            moved.push_back(comparison_row(r, c));
            moved.back().emplace_back(c.worsening > 0 ? "worse" : "better");
        }
    }
    std::string out = underpowered.empty() ? "" : "\nToo few repetitions to test:\n";
    for (const auto& [sizes, n] : underpowered) {
        out += fmt::format(
            "  {} comparisons: too few repetitions to test (n={} vs {}; {}; smallest possible p {:.2g})\n", n,
            sizes.first, sizes.second, needs_text(options.alpha), stats::mann_whitney_min_p(sizes.first, sizes.second));
    }
    if (!moved.empty()) {
        auto with_direction = comparison_header;
        with_direction.emplace_back("direction");
        out += fmt::format(
            "\nUntestable changes beyond {} ({}): the median moved, but these repetitions cannot "
            "tell it from noise:\n{}",
            threshold_text(options), moved.size(), table(with_direction, moved));
    }
    return out;
}

std::string named_list(const std::string& title, const std::vector<std::string>& items) {
    return items.empty() ? "" : fmt::format("\n{} ({}): {}\n", title, items.size(), some_of(items));
}

// The cells and metrics that were not compared, and why.
std::string not_compared(const comparison_result& r) {
    auto labels = [&](const std::vector<cell_key>& keys) {
        std::vector<std::string> names;
        for (const auto& key : keys) names.push_back(cell_label(r, key));
        return names;
    };
    auto label_of = [&](const json& entry) {
        return cell_label(r, {entry["machine"].get<long long>(), entry["id"].get<std::string>()});
    };
    std::string out = named_list("Only in A, not compared", labels(r.cells.only_a)) +
                      named_list("Only in B, not compared", labels(r.cells.only_b));
    std::vector<std::string> names;
    for (const auto& entry : r.cells.not_ok) {
        names.push_back(fmt::format("{} (A {}, B {})", label_of(entry), entry["status_a"].get<std::string>(),
                                    entry["status_b"].get<std::string>()));
    }
    out += named_list("Not ok in A or B, not compared", names);
    names.clear();
    for (const auto& entry : r.cells.params_differ) names.push_back(label_of(entry));
    out += named_list("Run with other parameters (ops, working set, warm-up or seed) in A and B, not compared", names);
    names.clear();
    for (const auto& c : r.comparisons) {
        if (c.outcome == verdict::no_values) {
            names.push_back(fmt::format("{} {} ({} vs {} values)", cell_label(r, c.key), c.metric, c.n_a, c.n_b));
        }
    }
    out += named_list("No values of the metric on a side", names);
    if (!names.empty()) {
        out += "  (model cells have the metrics of SCHEMA.md §6, real programs those of §10, e.g. wall_seconds)\n";
    }
    return out;
}

std::string summary_line(const comparison_result& r, const compare_options& options) {
    const auto& n = r.counts;
    return fmt::format(
        "\nsummary: regressions {}, improvements {}, unchanged {}, untestable {} ({} changed beyond {}), "
        "without values {}; cells matched {}, only in A {}, only in B {}, not ok {}, with other "
        "parameters {} -> {}\n",
        n.count(verdict::regression), n.count(verdict::improvement), n.count(verdict::unchanged),
        n.count(verdict::untestable) + n.count(verdict::untestable_change), n.count(verdict::untestable_change),
        threshold_text(options), n.count(verdict::no_values), r.cells.matched.size(), r.cells.only_a.size(),
        r.cells.only_b.size(), r.cells.not_ok.size(), r.cells.params_differ.size(), r.exit_code == 0 ? "PASS" : "FAIL");
}

std::string text_report(const run_cells& a, const run_cells& b, const comparison_result& r,
                        const compare_options& options) {
    std::string out =
        report_heading(a, b, options) + significant_changes(r) + untestable_changes(r, options) + not_compared(r);
    if (!r.warning.empty()) out += fmt::format("\n*** WARNING: {} ***\n", r.warning);
    return out + summary_line(r, options);
}

json json_report(const run_cells& a, const run_cells& b, const comparison_result& r, const compare_options& options) {
    json metrics = json::array();
    for (const auto& m : options.metrics) {
        metrics.push_back({{"name", m}, {"better", higher_is_better(m) ? "higher" : "lower"}});
    }
    json counts = {{"matched_cells", r.cells.matched.size()},
                   {"comparisons", r.comparisons.size()},
                   {"only_in_a", r.cells.only_a.size()},
                   {"only_in_b", r.cells.only_b.size()},
                   {"not_ok", r.cells.not_ok.size()},
                   {"params_differ", r.cells.params_differ.size()},
                   {"untestable_change_worse", r.counts.untestable_worse}};
    for (verdict v : {verdict::regression, verdict::improvement, verdict::unchanged, verdict::untestable,
                      verdict::untestable_change, verdict::no_values}) {
        counts[verdict_name(v)] = r.counts.count(v);
    }
    auto run_json = [](const run_cells& run) {
        const json env = run.document.value("environment", json::object());
        return json{{"file", run.file.string()},
                    {"status", run.document.value("status", json(nullptr))},
                    {"git_commit", env.value("git_commit", json(nullptr))},
                    {"time", env.value("time", json(nullptr))},
                    {"cells", run.order.size()}};
    };
    auto keys = [](const std::vector<cell_key>& list) {
        json out = json::array();
        for (const auto& key : list) out.push_back(to_json(key));
        return out;
    };
    const auto needed = repetitions_needed(options.alpha);
    json document = {{"schema", "allocproof-compare/1"},
                     {"a", run_json(a)},
                     {"b", run_json(b)},
                     {"metrics", metrics},
                     {"alpha", options.alpha},
                     {"threshold", options.threshold},
                     {"fail_on_untestable", options.fail_on_untestable},
                     {"repetitions_needed", needed ? json(*needed) : json(nullptr)},
                     {"exit_code", r.exit_code},
                     {"warning", r.warning.empty() ? json(nullptr) : json(r.warning)},
                     {"counts", counts},
                     {"comparisons", json::array()},
                     {"only_in_a", keys(r.cells.only_a)},
                     {"only_in_b", keys(r.cells.only_b)},
                     {"not_ok", r.cells.not_ok},
                     {"params_differ", r.cells.params_differ}};
    for (const auto& c : r.comparisons) document["comparisons"].push_back(to_json(c));
    return document;
}

}  // namespace

int compare_command(const compare_options& options) {
    try {
        if (!(options.alpha > 0 && options.alpha < 1)) {
            throw usage_error(fmt::format("--alpha {} is not between 0 and 1", options.alpha));
        }
        if (!(options.threshold >= 0)) throw usage_error(fmt::format("--threshold {} is negative", options.threshold));
        if (options.metrics.empty()) throw usage_error("--metric: no metric given");
        for (const auto& metric : options.metrics) check_metric_name(metric);
        const run_cells a = index_cells(options.a), b = index_cells(options.b);
        const comparison_result result = compare_runs(a, b, options);
        if (!options.json_out.empty()) {
            try {
                atomic_write(options.json_out, json_report(a, b, result, options).dump(2) + "\n");
            } catch (const std::exception& error) {
                throw usage_error(fmt::format("--json: cannot write {}: {}", options.json_out, error.what()));
            }
        }
        std::cout << text_report(a, b, result, options) << std::flush;
        if (!result.warning.empty()) std::cerr << "allocproof: warning: " << result.warning << "\n";
        return result.exit_code;
    } catch (const usage_error& error) {
        std::cerr << "allocproof: error: " << error.what() << "\n";
        return exit_usage;
    }
}

CLI::App* add_compare_command(CLI::App& app, compare_options& options) {
    auto* command = app.add_subcommand(
        "compare", "compare two runs cell by cell: exit 1 if B has a significant regression beyond the threshold");
    command->add_option("A", options.a, "the baseline: a run folder, or a results.json or results.json.gz file")
        ->required();
    command->add_option("B", options.b, "the candidate, likewise")->required();
    command
        ->add_option("--metric,-m", options.metrics,
                     "metric to compare (SCHEMA.md §6, or §10 for real programs); repeatable or comma-separated")
        ->delimiter(',')
        ->capture_default_str();
    command->add_option("--alpha", options.alpha, "significance level of the two-sided Mann-Whitney U test")
        ->capture_default_str();
    command
        ->add_option("--threshold", options.threshold, "smallest relative change of the median that counts (0.05 = 5%)")
        ->capture_default_str();
    command->add_flag("--fail-on-untestable", options.fail_on_untestable,
                      "also exit 1 when a cell with too few repetitions to test got worse by more than the threshold");
    command->add_option("--json", options.json_out, "write the whole comparison to this file (JSON)");
    return command;
}

}  // namespace allocproof::driver
