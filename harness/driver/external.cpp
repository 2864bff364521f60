// Running one repetition of an external workload: the program under a preloaded allocator, its
// server lifecycle, its rusage, the evidence of which allocator served malloc, its output checks.
#include "harness/driver/external.hpp"

#include "allocproof/workload.hpp"
#include "harness/driver/child_process.hpp"
#include "harness/driver/matrix.hpp"
#include "harness/driver/sql_script.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>

extern char** environ;

namespace allocproof::driver {

using json = nlohmann::json;
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

namespace {

std::string substitute(const std::string& text, const std::map<std::string, std::string>& variables) {
    std::string out;
    std::size_t at = 0;
    for (;;) {
        auto open = text.find('{', at);
        auto close = open == std::string::npos ? open : text.find('}', open);
        if (close == std::string::npos) {
            out += text.substr(at);
            return out;
        }
        auto found = variables.find(text.substr(open + 1, close - open - 1));
        out += text.substr(at, open - at);
        out += found == variables.end() ? text.substr(open, close - open + 1) : found->second;
        at = close + 1;
    }
}

std::vector<std::string> substitute(const std::vector<std::string>& argv,
                                    const std::map<std::string, std::string>& variables) {
    std::vector<std::string> out;
    for (const auto& a : argv) out.push_back(substitute(a, variables));
    return out;
}

// Reads a descriptor strictly: unknown keys are refused, so that a typo does not silently drop
// a check.
// ---- processes ----------------------------------------------------------------------------------

std::string read_file(const fs::path& path, std::size_t limit = 16 << 20) {
    std::ifstream in(path, std::ios::binary);
    std::string text;
    text.resize(limit);
    in.read(text.data(), static_cast<std::streamsize>(limit));
    text.resize(static_cast<std::size_t>(in.gcount()));
    return text;
}

std::string last_line_of(const std::string& text) {
    auto end = text.find_last_not_of(" \n\r\t");
    if (end == std::string::npos) return {};
    auto start = text.find_last_of("\n\r", end);
    start = start == std::string::npos ? 0 : start + 1;
    return text.substr(start, std::min<std::size_t>(end - start + 1, 300));
}

struct spawn_request {
    std::vector<std::string> argv;
    std::vector<std::string> environment;  // NAME=VALUE, added to ours minus any LD_PRELOAD/LD_DEBUG
    std::string stdin_path = "/dev/null";
    std::string stdout_path = "/dev/null";
    std::string stderr_path = "/dev/null";
};

struct process_end {
    bool ended = false;
    int status = 0;
    rusage usage{};
    double seconds = 0;
};

// Starts a program in its own process group (so that a timeout kills everything it started).
// Returns the pid, or -1 with `error` set.
pid_t spawn(const spawn_request& request, std::string& error) {
    std::string program = find_program(request.argv.front());
    if (program.empty()) {
        error = fmt::format("program '{}' is not installed (not found on PATH)", request.argv.front());
        return -1;
    }
    std::vector<std::string> environment;
    for (char** e = environ; *e != nullptr; ++e) {
        std::string_view entry(*e);
        if (entry.starts_with("LD_PRELOAD=") || entry.starts_with("LD_DEBUG")) {
            continue;
        }
        environment.emplace_back(entry);
    }
    environment.insert(environment.end(), request.environment.begin(), request.environment.end());
    std::vector<char*> envp, args;
    for (auto& e : environment) envp.push_back(e.data());
    envp.push_back(nullptr);
    for (const auto& a : request.argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, request.stdin_path.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, request.stdout_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, request.stderr_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attributes, 0);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setsigdefault(&attributes, &all);
    pid_t pid = -1;
    int code = posix_spawn(&pid, program.c_str(), &actions, &attributes, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (code != 0) {
        error = fmt::format("cannot start {}: {}", program, std::strerror(code));
        return -1;
    }
    return pid;
}

// Waits until the process ends, `deadline` passes or `stop` is set, calling `on_poll` meanwhile.
// wait4 gives the rusage of this process alone (it reaps nothing else).
process_end wait_for(pid_t pid, clock_type::time_point start, clock_type::time_point deadline,
                     const std::atomic<bool>& stop, const std::function<void()>& on_poll = {}) {
    process_end end;
    for (;;) {
        pid_t done = ::wait4(pid, &end.status, WNOHANG, &end.usage);
        if (done == pid) {
            end.ended = true;
            break;
        }
        if (done < 0 && errno != EINTR) break;
        if (clock_type::now() >= deadline || stop.load()) break;
        if (on_poll) on_poll();
        ::usleep(1000);  // the wall time is known to a millisecond; runs last 100 ms or more
    }
    end.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
    return end;
}

process_end kill_and_reap(pid_t pid, clock_type::time_point start) {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    process_end end;
    while (::wait4(pid, &end.status, 0, &end.usage) < 0 && errno == EINTR) {
    }
    end.ended = true;
    end.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
    return end;
}

// A helper command (readiness check, stats, shutdown): no preload, a short time limit.
struct helper_result {
    bool ok = false;
    std::string out;
    std::string error;
};

helper_result run_helper(const std::vector<std::string>& argv, const fs::path& folder, const std::string& tag,
                         std::chrono::milliseconds limit, const std::atomic<bool>& stop) {
    helper_result result;
    spawn_request request{argv, {}, "/dev/null", (folder / (tag + ".out")).string(),
                          (folder / (tag + ".err")).string()};
    auto start = clock_type::now();
    pid_t pid = spawn(request, result.error);
    if (pid < 0) return result;
    auto end = wait_for(pid, start, start + limit, stop);
    if (!end.ended) end = kill_and_reap(pid, start);
    result.out = read_file(request.stdout_path);
    result.ok = WIFEXITED(end.status) && WEXITSTATUS(end.status) == 0;
    if (!result.ok) {
        result.error = fmt::format("{} ended with status {}: {}", argv.front(), end.status,
                                   last_line_of(read_file(request.stderr_path)));
    }
    return result;
}

// Why a process ended badly, with the last line of what it wrote (`output`); empty if it did not.
std::string ending_reason(const process_end& end, const std::string& what, const std::string& output,
                          bool timed_out) {
    std::string detail = last_line_of(output);
    std::string suffix = detail.empty() ? "" : ": " + detail;
    if (timed_out) return fmt::format("{} timed out after {:.1f} s", what, end.seconds);
    if (WIFSIGNALED(end.status)) return fmt::format("{} crashed with {}{}", what, signal_name(WTERMSIG(end.status)), suffix);
    if (WIFEXITED(end.status) && WEXITSTATUS(end.status) != 0) {
        return fmt::format("{} exited with code {}{}", what, WEXITSTATUS(end.status), suffix);
    }
    return {};
}

// A free TCP port on the loopback interface, chosen by the kernel.
int free_loopback_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    int port = -1;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
        port = ntohs(address.sin_port);
    }
    ::close(fd);
    return port;
}

class scratch_folder {
public:
    scratch_folder() {
        static std::atomic<unsigned> counter{0};
        path_ = fs::temp_directory_path() /
                fmt::format("allocproof-external-{}-{}", ::getpid(), counter.fetch_add(1));
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~scratch_folder() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

// ---- which allocator serves malloc --------------------------------------------------------------

std::string file_name(const std::string& path) { return fs::path(path).filename().string(); }

bool same_file(const std::string& a, const std::string& b) {
    std::error_code error;
    return fs::equivalent(a, b, error);
}

// The shared objects the program's `malloc` references bind to, as the dynamic linker reports
// them (LD_DEBUG=bindings) for a harmless run of the same program with the same preload.
// Cached: it depends on the program and the preload only.
json binding_probe(const external_spec& spec, const std::string& program, const std::string& preload,
                   const std::atomic<bool>& stop) {
    static std::mutex lock;
    static std::map<std::string, json> cache;
    std::lock_guard guard(lock);
    const std::string key = program + "|" + preload + "|" + fmt::format("{}", fmt::join(spec.probe, " "));
    if (auto found = cache.find(key); found != cache.end()) return found->second;

    scratch_folder folder;
    spawn_request request;
    request.argv = spec.probe;
    request.argv.insert(request.argv.begin(), program);
    request.environment = {"LD_DEBUG=bindings", "LD_DEBUG_OUTPUT=" + (folder.path() / "ld").string()};
    if (!preload.empty()) request.environment.push_back("LD_PRELOAD=" + preload);
    std::string error;
    auto start = clock_type::now();
    pid_t pid = spawn(request, error);
    json bound = json::array();
    if (pid >= 0) {
        auto end = wait_for(pid, start, start + std::chrono::seconds(30), stop);
        if (!end.ended) kill_and_reap(pid, start);
        std::set<std::string> targets;
        for (const auto& entry : fs::directory_iterator(folder.path())) {
            std::ifstream in(entry.path());
            std::string line;
            while (std::getline(in, line)) {
                if (line.find("normal symbol `malloc'") == std::string::npos) continue;
                auto to = line.find(" to ");
                auto bracket = line.find(" [", to == std::string::npos ? 0 : to + 4);
                if (to != std::string::npos && bracket != std::string::npos) {
                    targets.insert(line.substr(to + 4, bracket - to - 4));
                }
            }
        }
        for (const auto& t : targets) bound.push_back(t);
    }
    json result = {{"command", fmt::format("{} {}", program, fmt::join(spec.probe, " "))},
                   {"malloc_bound_to", bound},
                   {"error", error.empty() ? json(nullptr) : json(error)}};
    cache[key] = result;
    return result;
}

// The allocator libraries mapped into a running process (and libc, which every process maps).
std::optional<std::vector<std::string>> mapped_libraries(pid_t pid) {
    std::ifstream in(fmt::format("/proc/{}/maps", pid));
    if (!in) return std::nullopt;
    std::set<std::string> found;
    bool loaded = false;
    std::string line;
    while (std::getline(in, line)) {
        auto slash = line.find('/');
        if (slash == std::string::npos) continue;
        std::string path = line.substr(slash);
        std::string name = file_name(path);
        if (name.starts_with("libc.so")) loaded = true;
        for (const char* allocator : {"libc.so", "jemalloc", "mimalloc", "tcmalloc"}) {
            if (name.find(allocator) != std::string::npos) found.insert(path);
        }
    }
    if (!loaded) return std::nullopt;  // the dynamic linker has not finished: look again later
    return std::vector<std::string>(found.begin(), found.end());
}

// The process's resident set now (VmRSS) and its high-water mark (VmHWM); zeros once it is gone.
struct resident_reading {
    std::uint64_t now = 0, high_water = 0;
};

// Measurement trap: wait4's ru_maxrss is useless for a small child of a large parent. At exec
// Linux keeps the larger of the old and the new address space's high-water marks, and a child
// spawned from the driver starts from the driver's (some 20 MiB). So the driver samples VmHWM,
// which belongs to the new address space alone, while the program runs (every millisecond, and
// last just before a server is stopped); and when ru_maxrss exceeds the driver's own peak at the
// spawn, ru_maxrss is the program's exact peak and wins.
resident_reading read_resident(pid_t pid) {
    std::ifstream in(fmt::format("/proc/{}/status", pid));
    std::string line;
    resident_reading reading;
    while (std::getline(in, line)) {
        if (line.rfind("VmHWM:", 0) == 0) reading.high_water = std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
        if (line.rfind("VmRSS:", 0) == 0) {
            reading.now = std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
            break;  // VmRSS follows VmHWM
        }
    }
    return reading;
}

// The resident set of the measured program over time, sampled every millisecond while it runs.
class resident_samples {
public:
    void add(clock_type::time_point when, const resident_reading& reading) {
        if (reading.now == 0) return;  // gone, or not yet readable
        peak_ = std::max(peak_, reading.high_water);
        samples_.emplace_back(when, reading.now);
    }
    std::uint64_t peak() const { return peak_; }
    std::size_t count() const { return samples_.size(); }
    // The steady state of [from, to]: the median of the samples over its second half. The first
    // half is left out because a program that loads its data grows there; the median, because a
    // moment's peak (a compaction's buffers, a sort) is not what the program holds.
    std::optional<std::uint64_t> steady(clock_type::time_point from, clock_type::time_point to) const {
        const auto middle = from + (to - from) / 2;
        std::vector<std::uint64_t> held;
        for (const auto& [when, bytes] : samples_) {
            if (when >= middle && when <= to) held.push_back(bytes);
        }
        if (held.empty()) return std::nullopt;
        auto mid = held.begin() + static_cast<std::ptrdiff_t>(held.size() / 2);
        std::nth_element(held.begin(), mid, held.end());
        return *mid;
    }

private:
    std::vector<std::pair<clock_type::time_point, std::uint64_t>> samples_;
    std::uint64_t peak_ = 0;
};

std::uint64_t own_peak_rss() {
    rusage self{};
    ::getrusage(RUSAGE_SELF, &self);
    return static_cast<std::uint64_t>(self.ru_maxrss) * 1024;
}

// Whether every binding of malloc goes to the allocator asked for.
bool binds_to(const json& bound, const std::string& preload) {
    if (bound.empty()) return false;
    return std::ranges::all_of(bound, [&](const json& target) {
        const auto path = target.get<std::string>();
        return preload.empty() ? file_name(path).starts_with("libc.so") : same_file(path, preload);
    });
}

// ---- output ------------------------------------------------------------------------------------

std::vector<std::smatch> matches_of(const std::string& text, const std::string& pattern,
                                    std::vector<std::string>& lines) {
    std::regex regex(pattern);
    std::vector<std::smatch> found;
    std::istringstream in(text);
    std::string line;
    lines.clear();
    while (std::getline(in, line)) lines.push_back(line);
    for (const auto& l : lines) {
        std::smatch m;
        if (std::regex_search(l, m, regex)) found.push_back(m);
    }
    return found;
}

std::string metric_label(std::string label) {
    std::string out;
    for (char c : label) {
        if (std::isalnum(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(c));
        else if (!out.empty() && out.back() != '_') out += '_';
    }
    while (!out.empty() && out.back() == '_') out.pop_back();
    return out;
}

std::string digest_of(const std::string& text) {
    std::uint64_t digest = text.size();
    for (std::size_t i = 0; i < text.size(); i += 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, text.data() + i, std::min<std::size_t>(8, text.size() - i));
        digest = digest_fold(digest, word);
    }
    return fmt::format("{:016x}", digest);
}

double seconds_of(const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; }

// Checks of the descriptor on an output; the first failure, or empty.
std::string failed_check(const external_spec& spec, const std::string& source, const std::string& text,
                         const std::map<std::string, std::string>& variables) {
    const std::string where = source == "after" ? "the after-command's output" : "the program's output";
    for (const auto& check : spec.checks) {
        if (check.source != source) continue;
        std::vector<std::string> lines;
        auto found = matches_of(text, check.regex, lines);
        const std::string matches = substitute(check.matches, variables);
        if (!matches.empty() && std::to_string(found.size()) != matches) {
            return fmt::format("check failed: /{}/ matched {} time(s) in {}, expected {}", check.regex,
                               found.size(), where, matches);
        }
        if (found.empty()) return fmt::format("check failed: /{}/ not found in {}", check.regex, where);
        const std::string expected_text = substitute(check.equals.empty() ? check.at_least : check.equals, variables);
        double expected = std::strtod(expected_text.c_str(), nullptr);
        for (const auto& m : found) {
            double value = std::strtod(m[1].str().c_str(), nullptr);
            bool good = check.equals.empty() ? value >= expected : value == expected;
            if (!good) {
                return fmt::format("check failed: /{}/ read {} in {}, expected {}{}", check.regex, m[1].str(),
                                   where, check.equals.empty() ? "at least " : "", expected_text);
            }
        }
    }
    return {};
}

// Writes the generated input of `spec` for `variables` to `path`; returns its statement count.
std::uint64_t write_input(const external_spec& spec, std::uint64_t seed,
                          const std::map<std::string, std::string>& variables, const std::string& path) {
    auto whole = [&](const char* name, std::uint64_t otherwise) {
        auto found = variables.find(name);
        return found == variables.end() ? otherwise : std::stoull(found->second);
    };
    if (spec.input_generator != "sql_mix") return 0;
    sql_script script = make_sql_mix(seed, {whole("rows", 0), whole("rounds", 4), whole("cache_mib", 0)});
    std::ofstream(path) << script.text;
    return script.statements;
}

struct idle_outcome {
    std::optional<std::uint64_t> bytes;  // none: no idle run, or it ended before it could be read
    std::string failure;
    json raw = nullptr;
};

// A program that is not a server has no idle moment of its own: its idle footprint is the steady
// state (as the measured run's: the median over the second half) of the same command under the
// same preload with the descriptor's `idle` variables (almost no data), run just before the
// measured run. So it holds what the program and its allocator take whatever the data (libraries,
// the allocator's arenas and caches for the same threads, the program's fixed buffers), read the
// same way, and the difference to the measured run is the data.
idle_outcome run_idle(const external_spec& spec, const std::string& program, const std::string& preload,
                      std::map<std::string, std::string> variables, const fs::path& folder, std::uint64_t seed,
                      clock_type::time_point deadline, const std::atomic<bool>& stop) {
    idle_outcome outcome;
    if (spec.idle.empty() || spec.server) return outcome;
    for (const auto& [name, value] : spec.idle) variables[name] = value;
    const fs::path idle_folder = folder / "idle";
    fs::create_directories(idle_folder);
    variables["tmpdir"] = idle_folder.string();
    spawn_request request;
    request.argv = substitute(spec.command, variables);
    request.argv.front() = program;
    if (!preload.empty()) request.environment.push_back("LD_PRELOAD=" + preload);
    request.stdout_path = (folder / "idle.out").string();
    request.stderr_path = (folder / "idle.err").string();
    if (!spec.input_generator.empty()) {
        request.stdin_path = (folder / "idle.in").string();
        write_input(spec, seed, variables, request.stdin_path);
    }
    resident_samples samples;
    const auto start = clock_type::now();
    pid_t pid = spawn(request, outcome.failure);
    if (pid < 0) {
        outcome.failure = "the idle run: " + outcome.failure;
        return outcome;
    }
    process_end end = wait_for(pid, start, deadline, stop, [&] { samples.add(clock_type::now(), read_resident(pid)); });
    if (!end.ended) {
        end = kill_and_reap(pid, start);
        if (!stop.load()) outcome.failure = fmt::format("the idle run timed out after {:.1f} s", end.seconds);
        return outcome;
    }
    outcome.failure = ending_reason(end, "the idle run of " + file_name(program), read_file(request.stderr_path), false);
    // None when it ended before a sample of its second half: then the metric is null, not zero.
    outcome.bytes = samples.steady(start, start + std::chrono::duration_cast<clock_type::duration>(
                                                      std::chrono::duration<double>(end.seconds)));
    outcome.raw = {{"command", request.argv}, {"seconds", end.seconds}, {"samples", samples.count()},
                   {"peak_bytes", samples.peak()}};
    return outcome;
}

}  // namespace

std::string preload_library(const std::string& allocator) {
    static const std::map<std::string, std::string> libraries = {
        {"jemalloc", "libjemalloc.so.2"}, {"mimalloc", "libmimalloc.so.2"}, {"tcmalloc", "libtcmalloc_minimal.so.4"}};
    if (allocator == "glibc") return {};
    auto library = libraries.find(allocator);
    if (library == libraries.end()) throw std::runtime_error("no shared library is known for allocator " + allocator);
#if defined(__x86_64__)
    const std::string triplet = "x86_64-linux-gnu";
#elif defined(__aarch64__)
    const std::string triplet = "aarch64-linux-gnu";
#else
    const std::string triplet = "";
#endif
    std::vector<std::string> folders = {"/usr/lib/" + triplet, "/lib/" + triplet, "/usr/lib64", "/usr/lib",
                                        "/usr/local/lib"};
    for (const auto& folder : folders) {
        fs::path candidate = fs::path(folder) / library->second;
        std::error_code error;
        if (fs::is_regular_file(candidate, error)) return fs::canonical(candidate, error).string();
    }
    throw std::runtime_error(fmt::format("{} is not installed (looked in {}); scripts/install-deps.sh installs it",
                                         library->second, fmt::join(folders, ", ")));
}

std::optional<json> run_external_repetition(const planned_cell& cell, const run_slot& slot, std::size_t order,
                                            const external_run_settings& settings, const std::atomic<bool>& stop) {
    const external_spec& spec = *cell.external;
    const auto started = clock_type::now();
    const auto deadline = started + settings.limit;
    json record = {{"rep", slot.rep},   {"order", order},     {"status", "failed"},
                   {"reason", nullptr}, {"seconds", 0},       {"digest", nullptr},
                   {"metrics", nullptr}, {"allocator_identity", nullptr}, {"raw", nullptr}};
    auto finish = [&](const std::string& status, const std::string& reason) -> std::optional<json> {
        record["status"] = status;
        record["reason"] = reason.empty() ? json(nullptr) : json(reason);
        record["seconds"] = std::chrono::duration<double>(clock_type::now() - started).count();
        return record;
    };

    const std::string program = find_program(spec.program());
    if (const auto missing = missing_programs(spec); !missing.empty()) {
        return finish("failed", fmt::format("program '{}' is not installed{}", fmt::join(missing, "', '"),
                                            spec.package.empty() ? "" : " (package " + spec.package + ")"));
    }
    std::string preload;
    try {
        preload = preload_library(cell.allocator);
    } catch (const std::runtime_error& e) {
        return finish("failed", e.what());
    }

    // Before measuring: does malloc bind to the allocator asked for? A program that links an
    // allocator of its own (redis-server links jemalloc) is not measured under another label.
    json identity = {{"name", cell.allocator},
                     {"preload", preload.empty() ? json(nullptr) : json(preload)},
                     {"binding_probe", nullptr},
                     {"mapped_libraries", nullptr},
                     {"serves_malloc", nullptr},
                     {"evidence", ""}};
    if (!spec.probe.empty()) {
        json probe = binding_probe(spec, program, preload, stop);
        identity["binding_probe"] = probe;
        const json& bound = probe["malloc_bound_to"];
        if (!bound.empty()) {
            bool in_effect = binds_to(bound, preload);
            identity["serves_malloc"] = in_effect;
            identity["evidence"] = fmt::format("LD_DEBUG=bindings of '{}': malloc binds to {}",
                                               probe["command"].get<std::string>(),
                                               fmt::join(bound.get<std::vector<std::string>>(), ", "));
            if (!in_effect) {
                record["allocator_identity"] = identity;
                return finish("not_applicable",
                              fmt::format("{} is not in effect for {}: malloc binds to {} ({})", cell.allocator,
                                          file_name(program),
                                          fmt::join(bound.get<std::vector<std::string>>(), ", "),
                                          preload.empty() ? "the program links its own allocator"
                                                          : "the preload does not win"));
            }
        }
    }

    scratch_folder folder;
    const std::string scale = external_scale(spec, settings.scale, settings.real_program_sizes);
    std::map<std::string, std::string> variables = spec.scales.at(scale);
    variables["tmpdir"] = folder.path().string();
    variables["seed"] = std::to_string(settings.seed);
    const int port = free_loopback_port();
    variables["port"] = std::to_string(port);
    variables["threads"] = std::to_string(spec.threads);

    spawn_request measured;
    measured.argv = substitute(spec.server ? spec.server->command : spec.command, variables);
    measured.argv.front() = program;
    if (!preload.empty()) measured.environment.push_back("LD_PRELOAD=" + preload);
    measured.stdout_path = (folder.path() / "program.out").string();
    measured.stderr_path = (folder.path() / "program.err").string();
    if (!spec.input_generator.empty()) {
        measured.stdin_path = (folder.path() / "input.sql").string();
        variables["statements"] = std::to_string(write_input(spec, settings.seed, variables, measured.stdin_path));
    }

    json raw = {{"command", measured.argv}, {"variables", variables}, {"scale", scale}};
    idle_outcome idle = run_idle(spec, program, preload, variables, folder.path(), settings.seed, deadline, stop);
    if (stop.load()) return std::nullopt;
    if (!idle.failure.empty()) return finish("failed", idle.failure);
    raw["idle_run"] = idle.raw;

    std::optional<std::vector<std::string>> mapped;
    std::string error;
    resident_samples resident;
    const std::uint64_t driver_peak = own_peak_rss();
    const auto program_start = clock_type::now();
    pid_t pid = spawn(measured, error);
    if (pid < 0) return finish("failed", error);
    auto look_at_maps = [&] {
        if (!mapped) mapped = mapped_libraries(pid);
        resident.add(clock_type::now(), read_resident(pid));
    };
    // The measured work, whose second half is the steady state: the program's run, or the client's.
    auto work_start = program_start, work_end = program_start;

    process_end end;         // of the measured program (the server, for a server)
    double wall_seconds = 0; // the measured work: the program's run, or the client's
    std::string output_path = measured.stdout_path, failure;
    bool timed_out = false;
    if (!spec.server) {
        end = wait_for(pid, program_start, deadline, stop, look_at_maps);
        if (!end.ended) {
            timed_out = !stop.load();
            end = kill_and_reap(pid, program_start);
            if (!timed_out) return std::nullopt;
        }
        wall_seconds = end.seconds;
        work_end = program_start + std::chrono::duration_cast<clock_type::duration>(
                                       std::chrono::duration<double>(end.seconds));
        failure = ending_reason(end, file_name(program), read_file(measured.stderr_path), timed_out);
    } else {
        const external_server& server = *spec.server;
        // The server answers, or it has died, or time is up.
        bool ready = false;
        std::string ready_error;
        while (!ready && clock_type::now() < deadline && !stop.load()) {
            end = wait_for(pid, program_start, std::min(deadline, clock_type::now() + std::chrono::milliseconds(20)),
                           stop, look_at_maps);
            if (end.ended) break;
            auto answer = run_helper(substitute(server.ready_command, variables), folder.path(), "ready",
                                     std::chrono::seconds(5), stop);
            ready = answer.out.find(server.ready_expect) != std::string::npos;
            if (!answer.error.empty()) ready_error = answer.error;
        }
        if (end.ended) {
            // A server may log to stdout or stderr: quote the last line of either.
            std::string log = read_file(measured.stderr_path);
            if (last_line_of(log).empty()) log = read_file(measured.stdout_path);
            failure = ending_reason(end, file_name(program), log, false);
            if (failure.empty()) failure = file_name(program) + " exited before it answered: " + last_line_of(log);
            failure = "server did not start: " + failure;
        } else if (!ready) {
            if (stop.load()) {
                kill_and_reap(pid, program_start);
                return std::nullopt;
            }
            end = kill_and_reap(pid, program_start);
            failure = fmt::format("server did not answer on port {} within the time limit{}", port,
                                  ready_error.empty() ? "" : " (" + ready_error + ")");
        } else {
            mapped = mapped_libraries(pid);
            // A server's idle footprint: what it holds once it answers, before any request.
            if (const auto now = read_resident(pid); now.now > 0) idle.bytes = now.now;
            resident.add(clock_type::now(), read_resident(pid));
            spawn_request client;
            client.argv = substitute(spec.command, variables);
            client.stdout_path = (folder.path() / "client.out").string();
            client.stderr_path = (folder.path() / "client.err").string();
            output_path = client.stdout_path;
            const auto client_start = clock_type::now();
            pid_t client_pid = spawn(client, error);
            if (client_pid < 0) {
                failure = error;
            } else {
                work_start = client_start;
                auto client_end = wait_for(client_pid, client_start, deadline, stop, look_at_maps);
                work_end = clock_type::now();
                if (!client_end.ended) {
                    timed_out = !stop.load();
                    client_end = kill_and_reap(client_pid, client_start);
                }
                wall_seconds = client_end.seconds;
                raw["client_cpu_seconds"] =
                    seconds_of(client_end.usage.ru_utime) + seconds_of(client_end.usage.ru_stime);
                failure = ending_reason(client_end, file_name(client.argv.front()), read_file(client.stderr_path),
                                        timed_out);
            }
            if (stop.load()) {
                kill_and_reap(pid, program_start);
                return std::nullopt;
            }
            if (failure.empty() && !server.after_command.empty()) {
                auto after = run_helper(substitute(server.after_command, variables), folder.path(), "after",
                                        std::chrono::seconds(10), stop);
                if (!after.ok) failure = "the after-command failed: " + after.error;
                json report = json::object();
                for (const auto& [name, regex] : spec.report) {
                    std::vector<std::string> lines;
                    auto found = matches_of(after.out, regex, lines);
                    report[name] = found.empty() ? json(nullptr) : json(found.front()[1].str());
                }
                raw["program_report"] = report;
                if (failure.empty()) failure = failed_check(spec, "after", after.out, variables);
            }
            look_at_maps();
            // Stop: ask, then SIGTERM, then SIGKILL; the server's rusage is read when it is reaped.
            std::string stopped_by = "stop_command";
            if (!server.stop_command.empty()) {
                run_helper(substitute(server.stop_command, variables), folder.path(), "stop", std::chrono::seconds(5),
                           stop);
            } else {
                ::kill(pid, SIGTERM);
                stopped_by = "SIGTERM";
            }
            end = wait_for(pid, program_start, clock_type::now() + std::chrono::seconds(5), stop);
            if (!end.ended) {
                ::kill(pid, SIGTERM);
                stopped_by = "SIGTERM";
                end = wait_for(pid, program_start, clock_type::now() + std::chrono::seconds(3), stop);
            }
            if (!end.ended) {
                end = kill_and_reap(pid, program_start);
                stopped_by = "SIGKILL";
            }
            raw["server_stopped_by"] = stopped_by;
            raw["server_lifetime_seconds"] = end.seconds;
            if (failure.empty() && stopped_by != "SIGKILL" && WIFSIGNALED(end.status) &&
                WTERMSIG(end.status) != SIGTERM) {
                failure = ending_reason(end, file_name(program),
                                        read_file(measured.stdout_path) + read_file(measured.stderr_path), false);
            }
        }
    }
    if (stop.load()) return std::nullopt;

    if (mapped) identity["mapped_libraries"] = *mapped;
    if (!preload.empty() && mapped &&
        std::ranges::none_of(*mapped, [&](const std::string& path) { return same_file(path, preload); })) {
        identity["serves_malloc"] = false;
        identity["evidence"] = fmt::format("{} is not mapped into the process", preload);
        record["allocator_identity"] = identity;
        return finish("failed", fmt::format("allocator mismatch: {} was preloaded but is not mapped", preload));
    }
    if (identity["serves_malloc"].is_null()) {
        identity["evidence"] = mapped ? fmt::format("not verified: no binding probe; mapped: {}", fmt::join(*mapped, ", "))
                                      : std::string("not verified: no binding probe, and the program ended before "
                                                    "its maps could be read");
    } else if (mapped) {
        identity["evidence"] = identity["evidence"].get<std::string>() +
                               fmt::format("; mapped in the measured process: {}", fmt::join(*mapped, ", "));
    }
    record["allocator_identity"] = identity;

    const std::string output = read_file(output_path);
    raw["stdout_tail"] = output.size() > 2000 ? output.substr(output.size() - 2000) : output;
    if (failure.empty()) failure = failed_check(spec, "stdout", output, variables);

    const auto rusage_peak = static_cast<std::uint64_t>(end.usage.ru_maxrss) * 1024;
    raw["rss_peak_source"] = rusage_peak > driver_peak ? "ru_maxrss (exact)" : "VmHWM sampled every millisecond";
    raw["rss_samples"] = resident.count();
    raw["rusage_maxrss_bytes"] = rusage_peak;
    raw["driver_peak_rss_bytes_at_spawn"] = driver_peak;
    json metrics = {
        {"wall_seconds", wall_seconds},
        {"user_seconds", seconds_of(end.usage.ru_utime)},
        {"system_seconds", seconds_of(end.usage.ru_stime)},
        {"cpu_seconds", seconds_of(end.usage.ru_utime) + seconds_of(end.usage.ru_stime)},
        {"rss_peak_bytes", rusage_peak > driver_peak ? rusage_peak : resident.peak()},
        {"minor_faults", end.usage.ru_minflt},
        {"major_faults", end.usage.ru_majflt},
        {"context_switches", end.usage.ru_nvcsw + end.usage.ru_nivcsw},
        {"program_throughput", nullptr},
        {"rss_steady_bytes", nullptr},
        {"rss_idle_bytes", idle.bytes ? json(*idle.bytes) : json(nullptr)},
        {"rss_steady_over_idle_bytes", nullptr},
    };
    if (const auto steady = resident.steady(work_start, work_end)) {
        metrics["rss_steady_bytes"] = *steady;
        if (idle.bytes) {
            metrics["rss_steady_over_idle_bytes"] = static_cast<std::int64_t>(*steady) -
                                                    static_cast<std::int64_t>(*idle.bytes);
        }
    }
    if (!spec.throughput_regex.empty() && failure.empty()) {
        std::vector<std::string> lines;
        double log_sum = 0;
        std::size_t n = 0;
        for (const auto& m : matches_of(output, spec.throughput_regex, lines)) {
            const bool labelled = m.size() > 2;
            double value = std::strtod(m[labelled ? 2 : 1].str().c_str(), nullptr);
            if (!(value > 0)) continue;
            if (labelled) metrics["throughput_" + metric_label(m[1].str())] = value;
            log_sum += std::log(value);
            ++n;
        }
        if (n == 0) failure = fmt::format("no throughput figure /{}/ in the output", spec.throughput_regex);
        else metrics["program_throughput"] = std::exp(log_sum / static_cast<double>(n));  // geometric mean
    } else if (!spec.throughput_count.empty() && wall_seconds > 0) {
        metrics["program_throughput"] =
            std::strtod(substitute(spec.throughput_count, variables).c_str(), nullptr) / wall_seconds;
    }
    record["raw"] = raw;
    if (!failure.empty()) return finish("failed", failure);
    if (spec.digest_stdout) record["digest"] = digest_of(output);
    record["metrics"] = metrics;
    return finish("ok", "");
}

}  // namespace allocproof::driver
