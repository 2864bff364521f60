// The console table of a finished run: model cells first, with their ratio to std, then real
// programs with theirs to glibc. Each kind of cell has its own table (they share no columns but
// the status); a cell kind that gains a table adds one here.
#include "harness/driver/cell_flags.hpp"
#include "harness/driver/cell_kind.hpp"
#include "harness/driver/run_reporter.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ostream>

namespace allocproof::driver {

using json = nlohmann::json;

namespace {

// The strategy table holds the cells that run a strategy; the programs' table the others.
bool runs_a_strategy(const json& cell) { return kind_of(cell).runs_a_strategy(); }

// "1.234 [1.100, 1.400]", or the estimate alone when the ratio has no interval; "" without one.
std::string ratio_text(const json& ratios, const char* metric) {
    if (ratios.is_null() || !ratios.contains(metric) || ratios[metric].is_null()) return {};
    const json& r = ratios[metric];
    return r["ci_low"].is_null() ? fmt::format("{:.3f}", r["estimate"].get<double>())
                                 : fmt::format("{:.3f} [{:.3f}, {:.3f}]", r["estimate"].get<double>(),
                                               r["ci_low"].get<double>(), r["ci_high"].get<double>());
}

json median(const json& cell, const char* metric) {
    const json& m = cell["metrics"].value(metric, json(nullptr));
    return m.is_null() ? json(nullptr) : m["median"];
}

std::string number(const json& v, const char* format, double scale = 1) {
    return v.is_null() ? std::string("-") : fmt::format(fmt::runtime(format), v.get<double>() * scale);
}

void print_reason(std::ostream& out, const json& cell) {
    if (!cell["reason"].is_null()) out << "    reason: " << cell["reason"].get<std::string>() << "\n";
}

// The column of a strategy cell's headline figure, its kind's noise metric: "ns/op" for a timed
// cell, "instructions/op" for a counted one.
std::string headline_title(const json& cell) {
    std::string title(kind_of(cell).noise_metric());
    if (const auto at = title.find("_per_op"); at != std::string::npos) title.replace(at, 7, "/op");
    return title;
}

void print_model_cell(std::ostream& out, const json& cell, std::size_t width) {
    const std::string metric(kind_of(cell).noise_metric());
    const json ns = cell["metrics"].value(metric, json(nullptr));
    out << fmt::format("{:<12} {:<12} {:<9} {:>2} {:<11} {:>{}} {:>6}  {}{}\n", cell["workload"].get<std::string>(),
                       cell["strategy"].get<std::string>(), cell["allocator"].get<std::string>(),
                       cell["threads"].get<unsigned>(), cell["status"].get<std::string>(),
                       ns.is_null() ? "-" : fmt::format("{:.2f}", ns["median"].get<double>()), width,
                       ns.is_null() ? "-" : fmt::format("{:.1f}%", 100 * ns["cv"].get<double>()),
                       ratio_text(cell["ratio_to_std"], metric.c_str()), cell["noisy"].get<bool>() ? "  (noisy)" : "");
    if (cell.value("leaked", false)) {
        const json& m = cell["metrics"];
        out << fmt::format("    left allocated at the end: {:.0f} blocks, at least {:.0f} bytes\n",
                           m["leaked_blocks"]["max"].get<double>(), m["leaked_bytes"]["max"].get<double>());
    }
    print_reason(out, cell);
    for (const auto& flag : cell.value("flags", json::array())) {
        out << fmt::format("    flag {}: {}\n", flag["flag"].get<std::string>(), flag["text"].get<std::string>());
    }
}

void print_model_table(std::ostream& out, const json& cells) {
    const auto first = std::ranges::find_if(cells, runs_a_strategy);
    if (first == cells.end()) return;
    const std::string title = headline_title(*first);
    const std::size_t width = std::max<std::size_t>(10, title.size());
    out << fmt::format("{:<12} {:<12} {:<9} {:>2} {:<11} {:>{}} {:>6}  {}\n", "workload", "strategy", "allocator", "t",
                       "status", title, width, "cv", "ratio to std [95% CI]");
    for (const auto& cell : cells) {
        if (runs_a_strategy(cell)) print_model_cell(out, cell, width);
    }
    // A strategy answers for all its cells: its ok cells above are read with this in mind.
    for (const auto& [strategy, fault] : strategy_faults(cells)) {
        out << fmt::format("strategy {}: {}{}\n", strategy, fault.text,
                           fault.untrusted ? " (wrong or unbelievable results: not ranked, no verdict)" : "");
    }
}

// Real programs: wall and CPU time, peak RSS and the program's own throughput, against glibc.
void print_program_cell(std::ostream& out, const json& cell) {
    const json throughput = median(cell, "program_throughput");
    const json& unit = cell["external"]["throughput_unit"];
    const json& ratios = cell.value("ratio_to_glibc", json(nullptr));
    std::string throughput_text = number(throughput, "{:.0f}");
    if (!unit.is_null() && !throughput.is_null()) throughput_text.append(" ").append(unit.get<std::string>());
    std::string ratio = ratio_text(ratios, "wall_seconds");
    if (!ratios.is_null() && !ratios["cpu_seconds"].is_null()) {
        ratio += fmt::format(", {:.3f}", ratios["cpu_seconds"]["estimate"].get<double>());
    }
    out << fmt::format("{:<12} {:<9} {:<14} {:>8} {:>8} {:>9} {:>22}  {}\n", cell["workload"].get<std::string>(),
                       cell["allocator"].get<std::string>(), cell["status"].get<std::string>(),
                       number(median(cell, "wall_seconds"), "{:.3f}"), number(median(cell, "cpu_seconds"), "{:.3f}"),
                       number(median(cell, "rss_peak_bytes"), "{:.1f}", 1.0 / (1 << 20)), throughput_text, ratio);
    print_reason(out, cell);
}

void print_program_table(std::ostream& out, const json& cells) {
    if (std::ranges::all_of(cells, runs_a_strategy)) return;
    out << fmt::format("\n{:<12} {:<9} {:<14} {:>8} {:>8} {:>9} {:>22}  {}\n", "program", "allocator", "status",
                       "wall s", "cpu s", "rss MiB", "throughput", "ratio to glibc: wall [95% CI], cpu");
    for (const auto& cell : cells) {
        if (!runs_a_strategy(cell)) print_program_cell(out, cell);
    }
}

class console_table final : public run_reporter {
public:
    explicit console_table(std::ostream& out) : out_(out) {}
    void finish(const json& document) override {
        print_model_table(out_, document.at("cells"));
        print_program_table(out_, document.at("cells"));
    }

private:
    std::ostream& out_;
};

}  // namespace

std::unique_ptr<run_reporter> console_reporter(std::ostream& out) { return std::make_unique<console_table>(out); }

}  // namespace allocproof::driver
