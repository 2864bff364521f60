// What the parts of one repetition of a real program share (external.cpp runs it, the server's
// lifecycle is in external_server.cpp): its setting, its scratch folder, the requests and helper
// commands it starts through the process layer, and what its measured run gave.
#pragma once

#include "harness/driver/child_process.hpp"
#include "harness/driver/external.hpp"
#include "harness/driver/external_memory.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace allocproof::driver {

using external_clock = std::chrono::steady_clock;

// A fresh folder per repetition: {tmpdir}, and the files the programs write; removed with it.
class scratch_folder {
public:
    scratch_folder();
    ~scratch_folder();
    scratch_folder(const scratch_folder&) = delete;
    scratch_folder& operator=(const scratch_folder&) = delete;
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

// What every process of a repetition runs with.
struct repetition_setup {
    const external_spec& spec;
    std::string program;                           // the measured program's path (the server's, for a server)
    std::string preload;                           // the allocator's shared library; empty for glibc
    std::map<std::string, std::string> variables;  // the scale's and {tmpdir} {seed} {port} {threads}
    std::filesystem::path folder;
    external_clock::time_point deadline;
    const std::atomic<bool>& stop;
};

// What the measured run gave.
struct measured_run {
    child_outcome end;                                // the measured program's (the server's, for a server): its rusage
    double wall_seconds = 0;                          // of the measured work: the program's run, or the client's
    external_clock::time_point work_start, work_end;  // the same; its second half is the steady state
    std::string output_path;                          // the output the checks read: the program's, or the client's
    std::string failure;
    bool stopped = false;                            // the driver was asked to stop: no record
    std::optional<std::vector<std::string>> mapped;  // allocator libraries in the measured process
    resident_samples resident;
    std::optional<std::uint64_t> idle_bytes;        // a server's resident set when it first answers
    nlohmann::json raw = nlohmann::json::object();  // what the server's lifecycle adds to raw
};

// Called every millisecond while the measured program runs: its maps (once the dynamic linker
// has loaded them) and its resident set.
void watch_measured(pid_t pid, measured_run& run);

// The first facts of a measured run, whether its program started or not: where its output is, and
// how it ended if it never began (then `run.failure` says why). True when it is running.
bool began_measured(const running_child& program, const child_request& request, measured_run& run);

// A program of the repetition: `argv` under the preload (none when `preload` is empty, and
// never the driver's own LD_PRELOAD or linker debugging), its output to <folder>/<tag>.out and .err.
child_request program_request(std::vector<std::string> argv, const std::string& preload,
                              const std::filesystem::path& folder, const std::string& tag);

// A helper command (readiness check, stats, shutdown): no preload, a short time limit.
struct helper_result {
    bool ok = false;
    std::string out;
    std::string error;
};
helper_result run_helper(const std::vector<std::string>& argv, const std::filesystem::path& folder,
                         const std::string& tag, std::chrono::milliseconds limit, const std::atomic<bool>& stop);

// Up to 16 MiB of a file a program wrote.
std::string read_output(const std::filesystem::path& path);
std::string file_name(const std::string& path);

// Why a process (`what`) ended badly, with the last line of what it wrote (`output`); empty when
// it exited with 0.
std::string ending_reason(const child_outcome& end, const std::string& what, const std::string& output);

}  // namespace allocproof::driver
