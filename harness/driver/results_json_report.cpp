// results.json: the whole run, rewritten atomically (results_file.hpp) so that a reader, or a
// --resume after a crash, finds the last checkpoint's file whole.
#include "harness/driver/results_file.hpp"
#include "harness/driver/run_reporter.hpp"

namespace allocproof::driver {

namespace {

class results_json_writer final : public run_reporter {
public:
    explicit results_json_writer(const std::filesystem::path& folder) : file_(folder / "results.json") {}
    void checkpoint(const nlohmann::json& document) override { finish(document); }
    void finish(const nlohmann::json& document) override { atomic_write(file_, document.dump(1) + "\n"); }

private:
    std::filesystem::path file_;
};

}  // namespace

std::unique_ptr<run_reporter> results_json_reporter(const std::filesystem::path& folder) {
    return std::make_unique<results_json_writer>(folder);
}

reporter_list run_folder_reporters(const std::filesystem::path& folder) {
    reporter_list reporters;
    reporters.push_back(results_json_reporter(folder));
    reporters.push_back(summary_csv_reporter(folder));
    return reporters;
}

void report_checkpoint(const reporter_list& reporters, const nlohmann::json& document) {
    for (const auto& reporter : reporters) reporter->checkpoint(document);
}

void report_finish(const reporter_list& reporters, const nlohmann::json& document) {
    for (const auto& reporter : reporters) reporter->finish(document);
}

}  // namespace allocproof::driver
