#include "harness/driver/matrix.hpp"

#include "allocproof/registry.hpp"  // baseline_strategy
#include "harness/driver/allocator_catalogue.hpp"
#include "harness/driver/cell_kind.hpp"
#include "harness/driver/external.hpp"
#include "harness/driver/matrix_catalogue.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <fnmatch.h>

namespace allocproof::driver {

std::string planned_cell::id() const { return fmt::format("{}/{}/{}/t{}", workload, strategy, allocator, threads); }

std::string planned_cell::group() const { return kind_of(*this).group(*this); }

nlohmann::json to_json(const matrix_request& r) {
    auto optional = [](const std::optional<std::uint64_t>& v) {
        return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
    };
    return {{"workloads", r.workloads},
            {"strategies", r.strategies},
            {"allocators", r.allocators},
            {"threads", r.threads},
            {"measure", r.measure},
            {"cache_simulation", r.cache_simulation},
            {"reps", r.reps},
            {"scale", r.scale},
            {"quick", r.scale == "quick"},
            {"real_program_sizes", r.real_program_sizes},
            {"ops", optional(r.ops)},
            {"working_set", optional(r.working_set)},
            {"warmup_ops", optional(r.warmup_ops)},
            {"min_phase_ms", r.min_phase_ms ? nlohmann::json(*r.min_phase_ms) : nlohmann::json(nullptr)},
            {"seed", r.seed},
            {"sample_every", r.sample_every},
            {"dirty_heap_bytes", r.dirty_heap_bytes},
            {"external_descriptors", r.external_descriptors},
            {"external_commands", r.external_commands},
            {"plugins", r.plugins},
            {"claims",
             {{"file", r.claims_file.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.claims_file)},
              {"only", r.claims_only},
              {"budget_seconds", r.budget_seconds},
              {"reps", r.claims_reps}}},
            {"shard", {{"index", r.shard_index}, {"count", r.shard_count}}}};
}

std::pair<unsigned, unsigned> parse_shard(const std::string& text) {
    const auto slash = text.find('/');
    // At most 9 digits a side: no wrap-around to a small number, and no count anyone could mean.
    auto whole = [](const std::string& digits) {
        return !digits.empty() && digits.size() <= 9 && digits.find_first_not_of("0123456789") == std::string::npos;
    };
    if (slash == std::string::npos || !whole(text.substr(0, slash)) || !whole(text.substr(slash + 1))) {
        throw usage_error(fmt::format("--shard '{}' is not i/n with 1 <= i <= n (e.g. 2/4)", text));
    }
    const auto index = static_cast<unsigned>(std::stoul(text.substr(0, slash)));
    const auto count = static_cast<unsigned>(std::stoul(text.substr(slash + 1)));
    if (count == 0 || index == 0 || index > count) {
        throw usage_error(fmt::format("--shard '{}' is not i/n with 1 <= i <= n (e.g. 2/4)", text));
    }
    if (count > max_shards) {
        throw usage_error(fmt::format("--shard '{}': the count of shards is out of range 1..{}", text, max_shards));
    }
    return {index, count};
}

namespace {

// get<T>() converts any number without complaint: a negative or too large integer wraps, and a
// float beyond T's range is undefined behaviour. A stored request is a file anyone can edit.
template <class T>
T whole_number(const nlohmann::json& v, const char* key) {
    if (!v.is_number_unsigned() || v.get<std::uint64_t>() > std::numeric_limits<T>::max()) {
        throw usage_error(fmt::format("the stored run request is malformed: {} {} is not a whole number in 0..{}", key,
                                      v.dump(), std::numeric_limits<T>::max()));
    }
    return static_cast<T>(v.get<std::uint64_t>());
}

}  // namespace

matrix_request matrix_request_from_json(const nlohmann::json& j) {
    try {
        matrix_request r;
        r.workloads = j.at("workloads").get<std::vector<std::string>>();
        r.strategies = j.at("strategies").get<std::vector<std::string>>();
        r.allocators = j.at("allocators").get<std::vector<std::string>>();
        r.threads.clear();
        for (const auto& t : j.at("threads").get<std::vector<nlohmann::json>>()) {
            r.threads.push_back(whole_number<unsigned>(t, "threads"));
        }
        r.reps = whole_number<unsigned>(j.at("reps"), "reps");
        r.scale =
            j.contains("scale") ? j.at("scale").get<std::string>() : (j.at("quick").get<bool>() ? "quick" : "default");
        r.real_program_sizes = j.value("real_program_sizes", std::string("default"));
        if (r.real_program_sizes != "default" && r.real_program_sizes != "full") {
            throw usage_error("the stored run request is malformed: real_program_sizes '" + r.real_program_sizes +
                              "' is not default or full");
        }
        r.dirty_heap_bytes = j.contains("dirty_heap_bytes")
                                 ? whole_number<std::uint64_t>(j.at("dirty_heap_bytes"), "dirty_heap_bytes")
                                 : 0;
        r.external_descriptors = j.value("external_descriptors", std::vector<std::string>{});
        r.external_commands = j.value("external_commands", std::vector<std::string>{});
        r.plugins = j.value("plugins", std::vector<std::string>{});
        r.measure = j.value("measure", std::string("time"));  // runs made before there was a choice timed
        if (r.measure != "time" && r.measure != "instructions") {
            throw usage_error("the stored run request is malformed: measure '" + r.measure + "'");
        }
        r.cache_simulation = j.value("cache_simulation", false);
        auto optional = [&](const char* key) -> std::optional<std::uint64_t> {
            const auto& v = j.at(key);
            return v.is_null() ? std::nullopt : std::optional(whole_number<std::uint64_t>(v, key));
        };
        r.ops = optional("ops");
        r.working_set = optional("working_set");
        r.warmup_ops = optional("warmup_ops");
        if (const auto floor = j.find("min_phase_ms"); floor != j.end() && !floor->is_null()) {
            if (!floor->is_number() || floor->get<double>() < 0) {
                throw usage_error("the stored run request is malformed: min_phase_ms " + floor->dump() +
                                  " is not a number >= 0");
            }
            r.min_phase_ms = floor->get<double>();
        }
        if (const auto claims = j.find("claims"); claims != j.end()) {
            const auto& file = claims->at("file");
            r.claims_file = file.is_null() ? std::string() : file.get<std::string>();
            r.claims_only = claims->at("only").get<bool>();
            r.budget_seconds = claims->at("budget_seconds").get<double>();
            r.claims_reps = claims->at("reps").get<unsigned>();
        }
        r.seed = whole_number<std::uint64_t>(j.at("seed"), "seed");
        r.sample_every = whole_number<std::uint64_t>(j.at("sample_every"), "sample_every");
        if (j.contains("shard")) {
            r.shard_index = whole_number<unsigned>(j.at("shard").at("index"), "shard.index");
            r.shard_count = whole_number<unsigned>(j.at("shard").at("count"), "shard.count");
            if (r.shard_count == 0 || r.shard_count > max_shards || r.shard_index == 0 ||
                r.shard_index > r.shard_count) {
                throw usage_error(
                    fmt::format("the stored run request is malformed: shard {}/{} is not i/n with "
                                "1 <= i <= n <= {}",
                                r.shard_index, r.shard_count, max_shards));
            }
        }
        return r;
    } catch (const nlohmann::json::exception& error) {
        throw usage_error(fmt::format("the stored run request is malformed: {}", error.what()));
    }
}

std::vector<std::string> split_list(const std::string& text, const std::string& flag) {
    std::vector<std::string> items;
    std::size_t start = 0;
    for (;;) {
        auto comma = text.find(',', start);
        std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (item.empty()) {
            throw usage_error(fmt::format("{} '{}' has an empty item", flag, text));
        }
        items.push_back(item);
        if (comma == std::string::npos) return items;
        start = comma + 1;
    }
}

std::vector<unsigned> parse_counts(const std::string& text, const std::string& flag) {
    std::vector<unsigned> counts;
    for (const auto& item : split_list(text, flag)) {
        if (item.size() > 9 || item.find_first_not_of("0123456789") != std::string::npos) {
            throw usage_error(fmt::format("{}: '{}' is not a whole number", flag, item));
        }
        const auto count = static_cast<unsigned>(std::stoul(item));
        if (std::ranges::find(counts, count) == counts.end()) counts.push_back(count);
    }
    return counts;
}

std::vector<std::string> expand_patterns(const std::vector<std::string>& patterns,
                                         const std::vector<std::string>& known, const std::string& kind) {
    if (patterns.empty()) {
        throw usage_error(fmt::format("no {} given", kind));
    }
    std::vector<bool> chosen(known.size(), false);
    for (const auto& pattern : patterns) {
        if (pattern.empty()) {
            throw usage_error(fmt::format("an empty {} name was given", kind));
        }
        // fnmatch takes an unclosed '[' literally, so the pattern would only "match nothing";
        // saying what is wrong with it is kinder.
        if (const auto open = pattern.find('[');
            open != std::string::npos && pattern.find(']', open + 2) == std::string::npos) {
            throw usage_error(fmt::format("bad {} pattern '{}': '[' without a closing ']'", kind, pattern));
        }
        bool matched = false;
        for (std::size_t i = 0; i < known.size(); ++i) {
            // A workload's base name selects all its variants: "string_pool" matches
            // "string_pool:plain" and "string_pool:interned".
            const std::string base = known[i].substr(0, known[i].find(':'));
            if (fnmatch(pattern.c_str(), known[i].c_str(), 0) == 0 || fnmatch(pattern.c_str(), base.c_str(), 0) == 0) {
                chosen[i] = true;
                matched = true;
            }
        }
        if (!matched) {
            throw usage_error(fmt::format("unknown {} '{}' (known: {})", kind, pattern, fmt::join(known, ", ")));
        }
    }
    std::vector<std::string> names;
    for (std::size_t i = 0; i < known.size(); ++i) {
        if (chosen[i]) names.push_back(known[i]);
    }
    return names;
}

std::vector<unsigned> default_threads(const std::string& scale, unsigned cpus) {
    if (scale == "default" && cpus > 2) return {1, 2, cpus};
    return {1, 2};
}

// The floors were chosen by measurement (issue 12), on the 2-CPU VM this project runs on: node_churn,
// graph and btree with std and fixed_pool on glibc, 1 thread pinned, default scale, 10 repetitions,
// two passes (the second in reverse order of floor). Median over the 6 cells of the CV of ns/op
// (max in brackets):
//   floor (ms)   0 (scale)    20           50           100          200          400
//   pass 1       32.8 (43.5)  28.7 (48.7)  31.2 (44.7)  29.4 (39.9)  11.0 (26.1)  10.4 (33.5)
//   pass 2       17.2 (25.2)  11.1 (22.4)  11.0 (32.3)  18.7 (36.7)  13.1 (19.7)  21.0 (42.5)
// (These passes ran while the machine was also building: the CVs are high for that too.) On a quiet
// machine later the same day, node_churn/std at 1M to 2.7M operations, pinned, still ranged 130-207
// ns/op between processes with the CPU busy 100% of the wall time and no steal: the working set
// (about 8 MiB) is bound by a memory system shared with the host's other guests. No floor came near a
// 2% CV: the spread is between processes and does not shrink with longer phases, so the default
// run spends its budget on repetitions (the interval narrows as 1/sqrt(n)) rather than on length:
// 100 ms, which still takes each cell well past its start-up transients (the 3-80 ms phases before
// were dominated by them). The quick scale has to finish within 2 minutes: 20 ms.
double default_min_phase_ms(const std::string& scale) {
    if (scale == "default") return 100;
    if (scale == "quick") return 20;
    return 0;  // the test scale is for checks, not figures: milliseconds per cell
}

std::uint64_t calibrated_ops(std::uint64_t ops, double phase_ns, double target_ms, std::uint64_t max_ops) {
    const double cap = static_cast<double>(std::max(ops, max_ops));
    if (!(phase_ns > 0)) return ops;  // nothing measured: nothing to scale by
    const double wanted = std::min(cap, static_cast<double>(ops) * target_ms * 1e6 / phase_ns);
    if (wanted <= static_cast<double>(ops)) return ops;
    // Up to 2 significant digits: 123456 -> 130000, a count a reader takes in at a glance.
    double unit = 1;
    while (wanted / unit >= 100) unit *= 10;
    return static_cast<std::uint64_t>(std::min(std::ceil(wanted / unit) * unit, cap));
}

void set_group_ops(plan& p, const std::string& group, std::uint64_t ops_per_thread) {
    for (auto& cell : p.cells) {
        if (cell.group() == group) cell.params.scale.ops_per_thread = ops_per_thread;
    }
}

workload_scale scale_of(const workload_traits& traits, const std::string& scale) {
    if (scale == "default") return traits.default_scale;
    if (scale == "quick") return traits.quick_scale;
    if (scale == "test") return traits.test_scale;
    throw usage_error(fmt::format("--scale '{}' is not one of default, quick, test", scale));
}

namespace {

// A shard keeps whole digest groups (one workload form at one thread count and scale: every
// strategy and allocator of it; an external program: all its cells), so that each shard checks
// its own digests against its own std baseline and computes its own ratios. Groups go, in plan
// order, to the shard with the fewest cells so far: the same split on every machine.
void keep_shard(plan& p, unsigned index, unsigned count) {
    std::map<std::string, unsigned> shard_of;
    std::vector<std::size_t> load(count, 0);
    std::vector<std::string> group_of(p.cells.size());
    std::map<std::string, std::size_t> size_of;
    for (std::size_t i = 0; i < p.cells.size(); ++i) {
        group_of[i] = p.cells[i].group();
        ++size_of[group_of[i]];
    }
    for (const auto& group : group_of) {
        if (shard_of.contains(group)) continue;
        const auto lightest = static_cast<unsigned>(std::ranges::min_element(load) - load.begin());
        shard_of[group] = lightest;
        load[lightest] += size_of[group];
    }
    std::vector<planned_cell> kept;
    for (std::size_t i = 0; i < p.cells.size(); ++i) {
        if (shard_of[group_of[i]] + 1 == index) kept.push_back(std::move(p.cells[i]));
    }
    if (kept.empty()) {
        throw usage_error(fmt::format("shard {}/{} is empty: the matrix has only {} groups of cells to share out",
                                      index, count, shard_of.size()));
    }
    p.cells = std::move(kept);
}

}  // namespace

namespace {

// The request's numbers that no option parser bounds (a stored request is a file anyone can edit);
// returns the thread counts, each once (a stored request of an older driver may repeat one).
std::vector<unsigned> checked_threads(const matrix_request& request, unsigned cpus) {
    // Callgrind runs a program's threads one at a time: a count of several threads would say nothing
    // of how they contend, so the counted cells are the 1-thread ones.
    const bool counted = request.measure == "instructions";
    if (counted && std::ranges::any_of(request.threads, [](unsigned t) { return t != 1; })) {
        throw usage_error(
            "--instructions counts 1-thread cells only (callgrind runs threads one at a time): "
            "leave out --threads or give --threads 1");
    }
    std::vector<unsigned> threads;
    const std::vector<unsigned> asked = counted ? std::vector<unsigned>{1} : request.threads;
    for (unsigned t : asked.empty() ? default_threads(request.scale, cpus) : asked) {
        if (t == 0 || t > 4096) throw usage_error(fmt::format("thread count {} is out of range 1..4096", t));
        if (std::ranges::find(threads, t) == threads.end()) threads.push_back(t);
    }
    if (request.reps == 0 || request.reps > 1000) {
        throw usage_error(fmt::format("--reps {} is out of range 1..1000", request.reps));
    }
    if (request.shard_count == 0 || request.shard_count > max_shards || request.shard_index == 0 ||
        request.shard_index > request.shard_count) {
        throw usage_error(fmt::format("shard {}/{} is not i/n with 1 <= i <= n <= {}", request.shard_index,
                                      request.shard_count, max_shards));
    }
    if (request.sample_every == 0 || (request.sample_every & (request.sample_every - 1)) != 0) {
        throw usage_error(fmt::format("--sample-every {} is not a power of two", request.sample_every));
    }
    return threads;
}

// What the request's names and patterns chose, on the axes of the matrix.
struct chosen_axes {
    std::vector<std::string> workloads, strategies, allocators;
    std::vector<unsigned> threads;
};

chosen_axes choose_axes(const matrix_request& request, const matrix_catalogue& build,
                        const std::vector<std::shared_ptr<const external_spec>>& external,
                        const std::vector<std::string>& allocators, unsigned cpus) {
    std::vector<std::string> workload_names, strategy_names;
    for (const auto& w : build.workloads()) workload_names.emplace_back(w.name);
    for (const auto& s : build.strategies()) strategy_names.emplace_back(s.name);
    for (const auto& e : external) workload_names.push_back(e->name);
    if (!external.empty()) strategy_names.emplace_back(external_strategy);
    return {expand_patterns(request.workloads, workload_names, "workload"),
            expand_patterns(request.strategies, strategy_names, "strategy"),
            expand_patterns(request.allocators, allocators, "allocator"), checked_threads(request, cpus)};
}

// A real program's cells, one per allocator; left out, and said so in p.skipped, when a
// descriptor's program is not installed (a command given on the command line is meant to run, so
// there a missing program is its cell's failure).
void plan_external_cells(plan& p, const std::shared_ptr<const external_spec>& spec, const matrix_request& request,
                         const chosen_axes& axes, const std::vector<std::string>& allocators) {
    if (std::ranges::find(axes.strategies, external_strategy) == axes.strategies.end()) return;
    if (const auto missing = missing_programs(*spec); spec->origin != "--external" && !missing.empty()) {
        p.skipped.push_back(fmt::format("{}: skipped, '{}' is not installed{}", spec->name, fmt::join(missing, "', '"),
                                        spec->package.empty() ? "" : " (apt-get install " + spec->package + ")"));
        return;
    }
    // A program's results are checked against its cell on the baseline allocator (glibc): the
    // program as its distribution built and tested it, with no code of this project in its process.
    const std::string& reference = baseline_allocator();
    const bool add_reference = spec->digest_stdout &&
                               std::ranges::find(axes.allocators, reference) == axes.allocators.end() &&
                               std::ranges::find(allocators, reference) != allocators.end();
    auto add = [&](const std::string& allocator, bool as_reference) {
        p.cells.push_back({spec->name,
                           external_strategy,
                           allocator,
                           spec->threads,
                           {{0, 0, 0}, request.seed, spec->threads},
                           spec,
                           as_reference});
    };
    if (add_reference) add(reference, true);
    for (const auto& a : axes.allocators) add(a, false);
}

// A model workload's cells: every chosen strategy that serves it, on every allocator and thread count.
void plan_model_cells(plan& p, const workload_traits& traits, const matrix_catalogue& build,
                      const matrix_request& request, const chosen_axes& axes) {
    workload_scale scale = scale_of(traits, request.scale);
    // A counted cell's operations cost callgrind's slowdown each: at most counted_ops_default.
    const bool counted = request.measure == "instructions";
    const std::uint64_t scale_ops =
        counted ? std::min(scale.ops_per_thread, counted_ops_default) : scale.ops_per_thread;
    scale.ops_per_thread = request.ops.value_or(scale_ops);
    scale.working_set = request.working_set.value_or(scale.working_set);
    scale.warmup_ops = request.warmup_ops.value_or(scale.warmup_ops);
    if (scale.ops_per_thread == 0 || scale.working_set == 0) {
        throw usage_error("--ops and --working-set must be positive");
    }
    const std::string workload(traits.name);
    std::vector<std::string> serving;
    for (const auto& s : axes.strategies) {
        // A strategy may declare that it cannot serve this workload.
        if (build.has_cell(workload, s)) serving.push_back(s);
    }
    // A strategy's digest is checked against std's, never against a majority of the strategies
    // that happen to be in the run: std joins every group it can serve, first (the calibration
    // baseline), on every allocator (the ratios' baseline).
    const bool add_baseline = !serving.empty() && std::ranges::find(serving, baseline_strategy) == serving.end() &&
                              build.has_cell(workload, baseline_strategy);
    if (add_baseline) serving.insert(serving.begin(), std::string(baseline_strategy));
    for (const auto& s : serving) {
        for (const auto& a : axes.allocators) {
            for (unsigned t : axes.threads) {
                p.cells.push_back({workload,
                                   s,
                                   a,
                                   t,
                                   {scale, request.seed, t},
                                   nullptr,
                                   add_baseline && s == baseline_strategy,
                                   counted});
            }
        }
    }
}

}  // namespace

plan make_plan(const matrix_request& request, const std::vector<std::string>& allocators, unsigned cpus) {
    const matrix_catalogue& build = catalogue();
    const auto external = load_external_specs(request.external_descriptors, request.external_commands);
    const chosen_axes axes = choose_axes(request, build, external, allocators, cpus);
    plan p;
    p.reps = request.reps;
    for (const auto& w : axes.workloads) {
        auto spec = std::ranges::find_if(external, [&](const auto& e) { return e->name == w; });
        if (spec != external.end() && request.measure == "instructions") {
            // Its processes run threads of their own, which callgrind would serialise.
            p.skipped.push_back(fmt::format("{}: skipped, a real program is timed, not counted", w));
        } else if (spec != external.end()) {
            plan_external_cells(p, *spec, request, axes, allocators);
        } else {
            plan_model_cells(p, *build.find_workload(w), build, request, axes);
        }
    }
    if (p.cells.empty()) {
        if (!p.skipped.empty()) {
            throw usage_error(fmt::format("the matrix is empty: {}", fmt::join(p.skipped, "; ")));
        }
        throw usage_error(fmt::format("the matrix is empty: no strategy among [{}] can serve a workload among [{}]",
                                      fmt::join(axes.strategies, ", "), fmt::join(axes.workloads, ", ")));
    }
    // The loops above plan in this order already but for a --threads list out of order and the
    // programs of --descriptor and --external; the plan's order is the key's, which merge sorts by.
    std::ranges::stable_sort(p.cells, {}, [](const planned_cell& c) { return plan_order_key(c); });
    if (request.shard_count > 1) keep_shard(p, request.shard_index, request.shard_count);
    append_rounds(p, std::vector<unsigned>(p.cells.size(), 0), std::vector<unsigned>(p.cells.size(), p.reps),
                  request.seed ^ 0x5EEDF00DULL);
    return p;
}

void append_rounds(plan& p, const std::vector<unsigned>& from, const std::vector<unsigned>& to, std::uint64_t seed) {
    split_mix random(seed);
    unsigned last = 0;
    for (std::size_t i = 0; i < p.cells.size(); ++i) last = std::max(last, to[i]);
    std::vector<std::size_t> order;
    for (unsigned rep = 0; rep < last; ++rep) {
        order.clear();
        for (std::size_t i = 0; i < p.cells.size(); ++i) {
            if (from[i] <= rep && rep < to[i]) order.push_back(i);
        }
        for (std::size_t i = order.size(); i > 1; --i) {  // Fisher-Yates
            std::swap(order[i - 1], order[random.below(i)]);
        }
        for (std::size_t cell : order) p.schedule.push_back({cell, rep});
    }
}

}  // namespace allocproof::driver
