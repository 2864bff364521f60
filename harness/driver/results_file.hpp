// The results layer: every results file the driver reads goes through load_results, every file
// it writes through atomic_write, and a run's repetitions reach the disk as they end through its
// journal. `run --resume`, `compare`, `merge` and `instructions` all read here, so a file is
// refused for one reason, in one sentence, whichever command reads it. results/SCHEMA.md
// documents the files.
#pragma once

#include "driver/results_schema_version.hpp"  // generated from results/schema_version

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <string>

namespace allocproof::driver {

// The file a run folder's results are in (results.json, else results.json.gz), or the file given.
// Throws usage_error when there is neither.
std::filesystem::path results_file_of(const std::filesystem::path& folder_or_file);

// A results document from a run folder or a file, gzip-compressed or not, validated: an
// allocproof document of results_schema_version whose cells each have a string id and status, a
// non-negative integer machine if any, and a repetitions array if ok. Unless `keep_raw`,
// repetitions' `raw` records are dropped while parsing: they are the bulk of a full run and only
// the instruction pass and merge carry them on. Throws usage_error, one line naming the file.
nlohmann::json load_results(const std::filesystem::path& folder_or_file, std::filesystem::path* file_read = nullptr,
                            bool keep_raw = false);

// Writes to a temporary file in the same folder, flushes it to disk, then renames it over the
// target: a reader sees the old file or the new one, never half of one. Throws on failure.
void atomic_write(const std::filesystem::path& path, const std::string& content);

// results.json is rewritten whole, which costs time in proportion to the run so far; done after
// every repetition, a run of thousands of repetitions would spend longer writing than measuring.
// So each repetition is appended to the run folder's journal.jsonl the moment it ends, and
// results.json is rewritten at checkpoints; --resume replays the journal over results.json, and a
// killed driver loses at most the line it was writing.
class results_journal {
public:
    static constexpr const char* file_name = "journal.jsonl";

    explicit results_journal(const std::filesystem::path& run_folder) : path_(run_folder / file_name) {}

    // Throws std::runtime_error when the line cannot be written (a full disk, a file size limit).
    void append(const std::string& cell_id, const nlohmann::json& record) const;
    // Hands each whole line to `take`, in order; a line cut short when the driver was killed is
    // skipped (that repetition runs again). No journal: nothing to replay.
    void replay(const std::function<void(const std::string& cell_id, const nlohmann::json& record)>& take) const;
    // Once results.json holds every line of it.
    void remove() const;

private:
    std::filesystem::path path_;
};

}  // namespace allocproof::driver
