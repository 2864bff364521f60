#include "harness/driver/environment.hpp"

#include <CLI/Version.hpp>
#include <fmt/format.h>

#include <gnu/libc-version.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

namespace allocproof::driver {

using json = nlohmann::json;

namespace {

// The value of the first line "key : value" in a /proc-style file.
std::string proc_value(const char* file, const std::string& key) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(key, 0) == 0) {
            auto colon = line.find(':');
            if (colon == std::string::npos) continue;
            auto value = line.substr(colon + 1);
            value.erase(0, value.find_first_not_of(" \t"));
            return value;
        }
    }
    return {};
}

std::string first_line(const char* file) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);
    return line;
}

std::string os_name() {
    std::ifstream in("/etc/os-release");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("PRETTY_NAME=", 0) == 0) {
            auto value = line.substr(12);
            if (value.size() >= 2 && value.front() == '"') value = value.substr(1, value.size() - 2);
            return value;
        }
    }
    return "unknown";
}

std::string command_output(const std::string& command) {
    std::string out;
    if (FILE* pipe = ::popen(command.c_str(), "r")) {
        std::array<char, 256> buffer{};
        while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) out += buffer.data();
        ::pclose(pipe);
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
}

}  // namespace

std::string utc_timestamp(bool compact) {
    std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[32];
    std::strftime(text, sizeof text, compact ? "%Y%m%d-%H%M%S" : "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

json collect_environment(const std::vector<std::string>& command_line, const json& allocators) {
    utsname uts{};
    uname(&uts);
    const std::string flags = proc_value("/proc/cpuinfo", "flags");
    const std::string source = ALLOCPROOF_SOURCE_DIR;
    std::string commit = command_output("git -C '" + source + "' rev-parse HEAD 2>/dev/null");
    std::string dirty = command_output("git -C '" + source + "' status --porcelain --untracked-files=no 2>/dev/null");
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    return {
        {"cpu_model", proc_value("/proc/cpuinfo", "model name")},
        {"logical_cpus", std::thread::hardware_concurrency()},
        {"memory_total", proc_value("/proc/meminfo", "MemTotal")},
        {"virtualized", flags.find("hypervisor") != std::string::npos},
        {"cpu_flags_of_note",
         {{"avx2", flags.find(" avx2") != std::string::npos},
          {"avx512f", flags.find(" avx512f") != std::string::npos},
          {"constant_tsc", flags.find("constant_tsc") != std::string::npos}}},
        {"hostname", host},
        {"kernel", fmt::format("{} {} {}", uts.sysname, uts.release, uts.machine)},
        {"os", os_name()},
        {"perf_event_paranoid", first_line("/proc/sys/kernel/perf_event_paranoid")},
        {"compiler", ALLOCPROOF_CXX_COMPILER},
        {"compiler_flags", ALLOCPROOF_CXX_FLAGS},
        {"build_type", ALLOCPROOF_BUILD_TYPE},
        {"sanitizers", ALLOCPROOF_SANITIZE},
        {"libraries",
         {{"glibc", gnu_get_libc_version()},
          {"libstdc++", fmt::format("{}", _GLIBCXX_RELEASE)},
          {"fmt", fmt::format("{}.{}.{}", FMT_VERSION / 10000, FMT_VERSION / 100 % 100, FMT_VERSION % 100)},
          {"nlohmann_json", fmt::format("{}.{}.{}", NLOHMANN_JSON_VERSION_MAJOR, NLOHMANN_JSON_VERSION_MINOR,
                                        NLOHMANN_JSON_VERSION_PATCH)},
          {"CLI11", CLI11_VERSION}}},
        {"allocators", allocators},
        {"allocproof_version", ALLOCPROOF_VERSION},
        {"git_commit", commit.empty() ? json(nullptr) : json(commit)},
        {"git_dirty", !dirty.empty()},
        {"time", utc_timestamp()},
        {"command_line", command_line},
    };
}

}  // namespace allocproof::driver
