#include "harness/driver/external_run.hpp"

#include "harness/driver/external_identity.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <fstream>

namespace allocproof::driver {

namespace fs = std::filesystem;

scratch_folder::scratch_folder() {
    static std::atomic<unsigned> counter{0};
    path_ = fs::temp_directory_path() / fmt::format("allocproof-external-{}-{}", ::getpid(), counter.fetch_add(1));
    fs::remove_all(path_);
    fs::create_directories(path_);
}

scratch_folder::~scratch_folder() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
}

void watch_measured(pid_t pid, measured_run& run) {
    if (!run.mapped) run.mapped = mapped_libraries(pid);
    run.resident.add(external_clock::now(), read_resident(pid));
}

bool began_measured(const running_child& program, const child_request& request, measured_run& run) {
    run.output_path = request.stdout_path;
    run.end = program.outcome();
    if (!run.end.started) run.failure = run.end.err;
    return run.end.started;
}

child_request program_request(std::vector<std::string> argv, const std::string& preload, const fs::path& folder,
                              const std::string& tag) {
    child_request request;
    request.argv = std::move(argv);
    request.unset_environment = {"LD_PRELOAD", "LD_DEBUG", "LD_DEBUG_OUTPUT"};
    if (!preload.empty()) request.set_environment.push_back("LD_PRELOAD=" + preload);
    request.stdout_path = (folder / (tag + ".out")).string();
    request.stderr_path = (folder / (tag + ".err")).string();
    return request;
}

helper_result run_helper(const std::vector<std::string>& argv, const fs::path& folder, const std::string& tag,
                         std::chrono::milliseconds limit, const std::atomic<bool>& stop) {
    const child_request request = program_request(argv, "", folder, tag);
    const child_outcome end = run_child(request, limit, stop);
    helper_result result;
    if (!end.started) {
        result.error = end.err;
        return result;
    }
    result.out = read_output(request.stdout_path);
    result.ok = end.exit_code == 0;
    if (!result.ok) {
        result.error = ending_reason(end, argv.front(), read_output(request.stderr_path));
    }
    return result;
}

std::string read_output(const fs::path& path) {
    constexpr std::size_t limit = 16 << 20;
    std::ifstream in(path, std::ios::binary);
    std::string text;
    text.resize(limit);
    in.read(text.data(), static_cast<std::streamsize>(limit));
    text.resize(static_cast<std::size_t>(in.gcount()));
    return text;
}

std::string file_name(const std::string& path) { return fs::path(path).filename().string(); }

std::string ending_reason(const child_outcome& end, const std::string& what, const std::string& output) {
    const std::string detail = last_line_of(output);
    const std::string suffix = detail.empty() ? "" : ": " + detail;
    if (end.timed_out) return fmt::format("{} timed out after {:.1f} s", what, end.seconds);
    if (end.signal != 0) return fmt::format("{} crashed with {}{}", what, signal_name(end.signal), suffix);
    if (end.exit_code != 0) return fmt::format("{} exited with code {}{}", what, end.exit_code, suffix);
    return {};
}

}  // namespace allocproof::driver
