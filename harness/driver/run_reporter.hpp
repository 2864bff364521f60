// What a run says and writes, apart from how it runs (google/benchmark keeps its reporters apart
// from its runners the same way). The run loop hands every reporter the results document (SCHEMA.md
// §3), cells aggregated and flagged, at each checkpoint and once at the end; each reporter shows or
// writes its own form of it. `merge` writes its merged run through the same reporters.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

namespace allocproof::driver {

class run_reporter {
public:
    virtual ~run_reporter() = default;
    // The document so far, while the run goes on. Throws std::runtime_error when it cannot be written.
    virtual void checkpoint(const nlohmann::json& document) { (void)document; }
    // The document as the run ends, complete or stopped. Throws std::runtime_error likewise.
    virtual void finish(const nlohmann::json& document) = 0;
};

using reporter_list = std::vector<std::unique_ptr<run_reporter>>;

// results.json in `folder`, rewritten atomically at every checkpoint and at the end.
std::unique_ptr<run_reporter> results_json_reporter(const std::filesystem::path& folder);
// summary.csv in `folder` at the end: one line per cell, the figures a spreadsheet wants.
std::unique_ptr<run_reporter> summary_csv_reporter(const std::filesystem::path& folder);
// The console table at the end: model cells with their ratios to std, flags and the strategies at
// fault, then real programs with their ratios to glibc.
std::unique_ptr<run_reporter> console_reporter(std::ostream& out);

// The files of a run folder: results_json_reporter and summary_csv_reporter.
reporter_list run_folder_reporters(const std::filesystem::path& folder);

// What summary_csv_reporter writes, for `cells` (results.json's cells).
std::string summary_csv(const nlohmann::json& cells);

// Every reporter, in turn.
void report_checkpoint(const reporter_list& reporters, const nlohmann::json& document);
void report_finish(const reporter_list& reporters, const nlohmann::json& document);

}  // namespace allocproof::driver
