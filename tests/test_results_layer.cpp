// The results layer reached directly, not through the binary (harness/driver/results_file.hpp):
// a results file read plain or gzip-compressed, from a file or a run folder; a file of another
// schema version, a truncated file and a file that is not JSON each refused with one line that
// names it; atomic_write leaving the whole file and no temporary; the journal replaying whole
// lines only. And the reporters the run loop and merge write through.
#include "harness/driver/exit_codes.hpp"
#include "harness/driver/results_file.hpp"
#include "harness/driver/run_reporter.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace allocproof::driver;

namespace {

class ResultsLayer : public ::testing::Test {
protected:
    void SetUp() override {
        folder_ = fs::temp_directory_path() / ("allocproof-results-layer-" + std::to_string(::getpid()) + "-" +
                                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(folder_);
        fs::create_directories(folder_);
    }
    void TearDown() override { fs::remove_all(folder_); }

    // A results document as a run writes it, with one ok cell whose repetition carries a raw record.
    static json document(int version = results_schema_version) {
        json repetition = {{"rep", 0}, {"status", "ok"}, {"metrics", {{"ns_per_op", 12.5}}}, {"raw", {{"wall_ns", 1}}}};
        return {
            {"tool", "allocproof"},
            {"schema_version", version},
            {"status", "complete"},
            {"cells",
             json::array(
                 {{{"id", "node_churn/std/glibc/t1"}, {"status", "ok"}, {"repetitions", json::array({repetition})}}})}};
    }

    fs::path write_plain(const std::string& name, const std::string& text) const {
        std::ofstream(folder_ / name) << text;
        return folder_ / name;
    }

    fs::path write_gzip(const std::string& name, const std::string& text) const {
        gzFile out = gzopen((folder_ / name).c_str(), "wb");
        EXPECT_NE(out, nullptr);
        EXPECT_EQ(gzwrite(out, text.data(), static_cast<unsigned>(text.size())), static_cast<int>(text.size()));
        EXPECT_EQ(gzclose(out), Z_OK);
        return folder_ / name;
    }

    // The usage_error a load ends with; fails the test when the load succeeds or throws another type.
    static std::string refusal(const fs::path& given) {
        try {
            load_results(given);
        } catch (const usage_error& error) {
            return error.what();
        }
        ADD_FAILURE() << given << " was read";
        return {};
    }

    fs::path folder_;
};

void expect_one_line_naming(const std::string& message, const fs::path& file, const std::string& fragment) {
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_NE(message.find(file.string()), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
}

json without_raw(json d) {
    for (auto& cell : d["cells"]) {
        for (auto& rep : cell["repetitions"]) rep.erase("raw");
    }
    return d;
}

TEST_F(ResultsLayer, ReadsPlainAndCompressedFilesAndRunFolders) {
    const std::string text = document().dump(1);
    const fs::path plain = write_plain("results.json", text);
    fs::path read_from;
    EXPECT_EQ(load_results(plain, &read_from, /*keep_raw=*/true), document());
    EXPECT_EQ(read_from, plain);
    EXPECT_EQ(load_results(folder_, &read_from, true), document());  // a run folder: its results.json
    EXPECT_EQ(read_from, plain);

    fs::create_directories(folder_ / "compressed");
    const fs::path gz = write_gzip("compressed/results.json.gz", text);
    EXPECT_EQ(load_results(gz, nullptr, true), document());
    EXPECT_EQ(load_results(folder_ / "compressed", &read_from, true), document());  // else results.json.gz
    EXPECT_EQ(read_from, gz);
}

TEST_F(ResultsLayer, DropsRawRecordsUnlessAsked) {
    const fs::path plain = write_plain("results.json", document().dump());
    EXPECT_EQ(load_results(plain), without_raw(document()));
    EXPECT_NE(load_results(plain), document());
}

TEST_F(ResultsLayer, RefusesAnotherSchemaVersionInOneLine) {
    const fs::path newer = write_plain("newer.json", document(results_schema_version + 1).dump());
    expect_one_line_naming(refusal(newer), newer,
                           "has schema_version " + std::to_string(results_schema_version + 1) +
                               ", this allocproof reads schema_version " + std::to_string(results_schema_version));
    json quoted = document();
    quoted["schema_version"] = std::to_string(results_schema_version);  // "1" is not 1
    const fs::path text_version = write_plain("text_version.json", quoted.dump());
    expect_one_line_naming(refusal(text_version), text_version, "has schema_version \"");
}

TEST_F(ResultsLayer, RefusesATruncatedFileInOneLine) {
    const std::string text = document().dump(1);
    const fs::path cut = write_plain("cut.json", text.substr(0, text.size() / 2));
    expect_one_line_naming(refusal(cut), cut, "is not valid JSON");

    const fs::path whole_gz = write_gzip("whole.json.gz", text);
    std::ifstream in(whole_gz, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const fs::path cut_gz = write_plain("cut.json.gz", bytes.substr(0, bytes.size() - 12));
    expect_one_line_naming(refusal(cut_gz), cut_gz, "truncated gzip");
}

TEST_F(ResultsLayer, RefusesWhatIsNotAResultsFileInOneLine) {
    const fs::path prose = write_plain("notes.txt", "cells: many\nstatus: fine\n");
    expect_one_line_naming(refusal(prose), prose, "is not valid JSON");
    const fs::path other = write_plain("other.json", json{{"tool", "something else"}, {"cells", json::array()}}.dump());
    expect_one_line_naming(refusal(other), other, "is not an allocproof results file");
    json no_id = document();
    no_id["cells"][0].erase("id");
    const fs::path nameless = write_plain("nameless.json", no_id.dump());
    expect_one_line_naming(refusal(nameless), nameless, "cells[0] has no string id");
    expect_one_line_naming(refusal(folder_ / "missing"), folder_ / "missing", "does not exist");
    expect_one_line_naming(refusal(folder_), folder_, "is a folder without results.json");
}

TEST_F(ResultsLayer, AtomicWriteLeavesTheWholeFileAndNoTemporary) {
    const fs::path target = folder_ / "results.json";
    atomic_write(target, "first\n");
    const std::string second(1 << 20, 'x');  // over the first, larger than a page
    atomic_write(target, second);
    std::ifstream in(target);
    const std::string back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(back, second);
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(folder_)) names.push_back(entry.path().filename().string());
    EXPECT_EQ(names, std::vector<std::string>{"results.json"});  // the temporary was renamed, not left

    // A folder that does not exist: an error, and nothing written anywhere.
    EXPECT_THROW(atomic_write(folder_ / "absent" / "results.json", "x"), std::runtime_error);
    EXPECT_FALSE(fs::exists(folder_ / "absent"));
}

TEST_F(ResultsLayer, JournalReplaysWholeLinesOnly) {
    const results_journal journal(folder_);
    journal.append("a", {{"rep", 0}});
    journal.append("b", {{"rep", 1}});
    std::ofstream(folder_ / results_journal::file_name, std::ios::app) << R"({"cell": "c", "rec)";  // killed mid-line
    std::vector<std::pair<std::string, json>> replayed;
    journal.replay([&](const std::string& cell, const json& record) { replayed.emplace_back(cell, record); });
    const std::vector<std::pair<std::string, json>> expected{{"a", {{"rep", 0}}}, {"b", {{"rep", 1}}}};
    EXPECT_EQ(replayed, expected);
    journal.remove();
    EXPECT_FALSE(fs::exists(folder_ / results_journal::file_name));
    replayed.clear();
    journal.replay([&](const std::string& cell, const json& record) { replayed.emplace_back(cell, record); });
    EXPECT_TRUE(replayed.empty());
}

TEST_F(ResultsLayer, ReportersWriteWhatTheRunLoopHandsThem) {
    json doc = document();
    doc["cells"][0].update({{"workload", "node_churn"},
                            {"strategy", "std"},
                            {"allocator", "glibc"},
                            {"threads", 1},
                            {"reps_ok", 1},
                            {"noisy", false},
                            {"digest", "d1"},
                            {"reason", nullptr},
                            {"ratio_to_std", nullptr},
                            {"metrics", {{"ns_per_op", {{"median", 12.5}, {"cv", 0.0}}}}}});
    std::ostringstream console;
    std::vector<std::unique_ptr<run_reporter>> reporters;
    reporters.push_back(results_json_reporter(folder_));
    reporters.push_back(summary_csv_reporter(folder_));
    reporters.push_back(console_reporter(console));
    report_checkpoint(reporters, doc);
    EXPECT_EQ(load_results(folder_, nullptr, true), doc);  // results.json at a checkpoint
    EXPECT_FALSE(fs::exists(folder_ / "summary.csv"));     // the rest at the end
    EXPECT_TRUE(console.str().empty());
    report_finish(reporters, doc);
    std::ifstream csv(folder_ / "summary.csv");
    std::string header, row;
    std::getline(csv, header);
    std::getline(csv, row);
    EXPECT_TRUE(header.starts_with("workload,strategy,allocator,threads,status")) << header;
    EXPECT_TRUE(row.starts_with("node_churn,std,glibc,1,ok,1,12.5,0,no,")) << row;
    EXPECT_NE(console.str().find("node_churn   std          glibc      1 ok               12.50"), std::string::npos)
        << console.str();
}

}  // namespace
