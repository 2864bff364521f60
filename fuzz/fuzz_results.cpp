// A results document read the ways `compare`, `merge` and `run --resume` read one: load_results
// (plain and gzip-compressed), then compare of the file with itself, merge of it alone, and the
// stored request that --resume plans from. Bad input must end as the documented usage_error or
// the commands' exit code 2; any other exception, crash or sanitizer report is a finding.
#include "fuzz/fuzz_support.hpp"

#include "harness/driver/compare.hpp"
#include "harness/driver/matrix.hpp"
#include "harness/driver/merge.hpp"
#include "harness/driver/results_file.hpp"  // load_results
#include "harness/driver/run.hpp"           // exit_usage

#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace allocproof::driver;
using namespace allocproof::fuzz;

namespace {

fs::path gzip_file(const std::string& name, std::string_view content) {
    const auto path = scratch_folder() / name;
    gzFile out = gzopen(path.c_str(), "wb1");
    if (out == nullptr ||
        (!content.empty() && gzwrite(out, content.data(), static_cast<unsigned>(content.size())) <= 0) ||
        gzclose(out) != Z_OK) {
        broken("cannot write a gzip scratch file", path.string());
    }
    return path;
}

// load_results' outcome: the document, or the usage_error's absence of one.
std::optional<json> try_load(const fs::path& path, bool keep_raw) {
    try {
        return load_results(path, nullptr, keep_raw);
    } catch (const usage_error&) {
        return std::nullopt;
    }
}

// Without `keep_raw` the parser drops every "raw" key while parsing; that must be all it changes.
json without_raw(json j) {
    if (j.is_object()) {
        j.erase("raw");
        for (auto& [key, value] : j.items()) value = without_raw(std::move(value));
    } else if (j.is_array()) {
        for (auto& value : j) value = without_raw(std::move(value));
    }
    return j;
}

void exit_code_is(const char* command, int code, std::initializer_list<int> allowed) {
    if (std::find(allowed.begin(), allowed.end(), code) == allowed.end()) {
        broken(command, "exit code " + std::to_string(code));
    }
}

// summary.csv read back as RFC 4180 says: whatever the cells' names hold (commas, quotes, line
// breaks), one row per cell under the header, each with the header's number of fields.
void check_summary_csv(const fs::path& csv_path, const fs::path& results_path) {
    std::ifstream in(csv_path);
    const std::string csv{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    std::vector<std::size_t> fields_per_row(1, 1);
    bool quoted = false;
    for (std::size_t i = 0; i < csv.size(); ++i) {
        if (quoted && csv[i] == '"' && i + 1 < csv.size() && csv[i + 1] == '"') {
            ++i;
        } else if (csv[i] == '"') {
            quoted = !quoted;
        } else if (!quoted && csv[i] == ',') {
            ++fields_per_row.back();
        } else if (!quoted && csv[i] == '\n') {
            fields_per_row.push_back(1);
        }
    }
    fields_per_row.pop_back();  // after the last line's \n
    std::ifstream results_in(results_path);
    const std::size_t cells = json::parse(results_in).at("cells").size();
    if (quoted || fields_per_row.size() != cells + 1 ||
        std::ranges::any_of(fields_per_row, [&](std::size_t n) { return n != fields_per_row.front(); })) {
        broken("summary_csv", "not one well-formed row per cell: " + csv.substr(0, 300));
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // The commands print a report or one error line per input; libFuzzer and the sanitizers
    // write to file descriptor 2 directly, so findings still show.
    std::cout.rdbuf(nullptr);
    std::cerr.rdbuf(nullptr);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const fs::path plain = scratch_file("results.json", text);

    const auto kept = try_load(plain, /*keep_raw=*/true);
    const auto lean = try_load(plain, /*keep_raw=*/false);
    if (kept.has_value() != lean.has_value()) broken("load_results", "keep_raw changes whether the file is accepted");
    if (kept && without_raw(*kept) != *lean) broken("load_results", "dropping raw changed more than raw");
    if (kept && (!kept->is_object() || !kept->contains("cells") || !kept->at("cells").is_array())) {
        broken("load_results", "accepted a document without a cells array");
    }
    // gzread passes plain files through; compressed, the same text must read the same. (Input
    // that is gzip already would come back from one decompression still compressed.)
    if (!text.starts_with("\x1f\x8b") && try_load(gzip_file("results.json.gz", text), true) != kept) {
        broken("load_results", "the gzip-compressed file reads differently");
    }
    if (!kept) return 0;

    compare_options compare;
    compare.a = compare.b = plain.string();
    compare.metrics = {"ns_per_op", "ops_per_sec", "wall_seconds"};
    compare.json_out = (scratch_folder() / "compare.json").string();
    // A run compared with itself has no regression: 0, or 2 for a cell list compare refuses.
    exit_code_is("compare", compare_command(compare), {0, exit_usage});

    merge_options merge;
    merge.inputs = {plain.string()};
    merge.out = (scratch_folder() / "merged").string();
    if (const int merged = merge_command(merge); merged == 0) {
        check_summary_csv(fs::path(merge.out) / "summary.csv", fs::path(merge.out) / "results.json");
    } else {
        exit_code_is("merge", merged, {exit_usage});
    }
    fs::remove_all(merge.out);

    // --resume plans from the stored request; the rest of its reading is run.cpp's own.
    if (kept->contains("plan") && kept->at("plan").is_object() && kept->at("plan").contains("request")) {
        try {
            matrix_request_from_json(kept->at("plan").at("request"));
        } catch (const usage_error&) {}
    }
    return 0;
}
