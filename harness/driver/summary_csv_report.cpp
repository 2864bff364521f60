// summary.csv: one line per cell, the figures a spreadsheet wants (results/SCHEMA.md, "summary.csv").
#include "harness/driver/results_file.hpp"
#include "harness/driver/run_reporter.hpp"

#include <fmt/format.h>

namespace allocproof::driver {

using json = nlohmann::json;

namespace {

// RFC 4180's quoting: a field holding a comma, a quote or a line break is quoted, its quotes
// doubled. Lines end in \n, not RFC 4180's \r\n, as they always have: readers split on it.
std::string csv_field(const std::string& text) {
    if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
    std::string quoted = "\"";
    for (char c : text) {
        if (c == '"') quoted += '"';
        quoted += c;
    }
    return quoted + "\"";
}

std::string csv_row(const std::vector<std::string>& fields) {
    std::string row;
    for (const auto& f : fields) row.append(row.empty() ? "" : ",").append(csv_field(f));
    return row + "\n";
}

std::string number(const json& v) { return v.is_null() ? std::string() : fmt::format("{:.6g}", v.get<double>()); }

std::string median_of(const json& cell, const char* metric) {
    const json& metrics = cell.at("metrics");
    if (!metrics.contains(metric) || metrics.at(metric).is_null()) return std::string();
    return number(metrics.at(metric).at("median"));
}

std::string glibc_ratio(const json& cell) {
    if (!cell.contains("ratio_to_glibc") || cell.at("ratio_to_glibc").is_null()) return std::string();
    const json& r = cell.at("ratio_to_glibc").at("wall_seconds");
    return r.is_null() ? std::string() : number(r.at("estimate"));
}

std::string cell_row(const json& cell) {
    const json& ratio = cell.at("ratio_to_std");
    const json ns_ratio = ratio.is_null() ? json(nullptr) : ratio.value("ns_per_op", json(nullptr));
    const json ns = cell.at("metrics").value("ns_per_op", json(nullptr));
    return csv_row({cell.at("workload").get<std::string>(),
                    cell.at("strategy").get<std::string>(),
                    cell.at("allocator").get<std::string>(),
                    std::to_string(cell.at("threads").get<unsigned>()),
                    cell.at("status").get<std::string>(),
                    std::to_string(cell.at("reps_ok").get<std::size_t>()),
                    median_of(cell, "ns_per_op"),
                    ns.is_null() ? "" : number(ns.at("cv")),
                    cell.at("noisy").get<bool>() ? "yes" : "no",
                    ns_ratio.is_null() ? "" : number(ns_ratio.at("estimate")),
                    ns_ratio.is_null() ? "" : number(ns_ratio.at("ci_low")),
                    ns_ratio.is_null() ? "" : number(ns_ratio.at("ci_high")),
                    median_of(cell, "latency_p99_ns"),
                    median_of(cell, "alloc_calls_per_op"),
                    median_of(cell, "rss_peak_bytes"),
                    median_of(cell, "memory_held_ratio"),
                    cell.at("digest").is_null() ? "" : cell.at("digest").get<std::string>(),
                    median_of(cell, "wall_seconds"),
                    median_of(cell, "program_throughput"),
                    glibc_ratio(cell),
                    std::to_string(cell.value("machine", 0))});
}

class summary_csv_writer final : public run_reporter {
public:
    explicit summary_csv_writer(const std::filesystem::path& folder) : file_(folder / "summary.csv") {}
    void finish(const json& document) override { atomic_write(file_, summary_csv(document.at("cells"))); }

private:
    std::filesystem::path file_;
};

}  // namespace

std::string summary_csv(const json& cells) {
    std::string csv = csv_row({"workload",
                               "strategy",
                               "allocator",
                               "threads",
                               "status",
                               "reps_ok",
                               "ns_per_op_median",
                               "ns_per_op_cv",
                               "noisy",
                               "ratio_to_std",
                               "ratio_ci_low",
                               "ratio_ci_high",
                               "latency_p99_ns",
                               "alloc_calls_per_op",
                               "rss_peak_bytes",
                               "memory_held_ratio",
                               "digest",
                               "wall_seconds",
                               "program_throughput",
                               "ratio_to_glibc",
                               "machine"});
    for (const auto& cell : cells) csv += cell_row(cell);
    return csv;
}

std::unique_ptr<run_reporter> summary_csv_reporter(const std::filesystem::path& folder) {
    return std::make_unique<summary_csv_writer>(folder);
}

}  // namespace allocproof::driver
