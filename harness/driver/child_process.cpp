#include "harness/driver/child_process.hpp"

#include "harness/driver/cpu_affinity.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <utility>

extern char** environ;

namespace allocproof::driver {

namespace {

constexpr std::size_t output_limit = 64 * 1024 * 1024;  // a child that floods us is cut off

double seconds_of(const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; }

// Reads what `fd` holds into `into`; closes it (fd = -1) at its end.
void drain(int& fd, std::string& into) {
    char buffer[65536];
    ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got > 0) {
        if (into.size() < output_limit) into.append(buffer, static_cast<std::size_t>(got));
    } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        ::close(fd);
        fd = -1;
    }
}

bool named(std::string_view entry, const std::string& name) {
    return entry.size() > name.size() && entry.starts_with(name) && entry[name.size()] == '=';
}

// The driver's environment less what the request unsets or sets, then what it sets.
std::vector<std::string> environment_for(const child_request& request) {
    std::vector<std::string> names = request.unset_environment;
    for (const auto& entry : request.set_environment) names.push_back(entry.substr(0, entry.find('=')));
    std::vector<std::string> environment;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string_view entry(*e);
        if (std::ranges::none_of(names, [&](const std::string& name) { return named(entry, name); })) {
            environment.emplace_back(entry);
        }
    }
    environment.insert(environment.end(), request.set_environment.begin(), request.set_environment.end());
    return environment;
}

// Where stdin, stdout and stderr come from and go; `out_pipe`/`err_pipe` are the write ends of
// the capturing pipes, or -1 for a file.
void redirect(posix_spawn_file_actions_t& actions, const child_request& request, int out_pipe, int err_pipe) {
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, request.stdin_path.c_str(), O_RDONLY, 0);
    const int written = O_WRONLY | O_CREAT | O_TRUNC;
    if (out_pipe >= 0) posix_spawn_file_actions_adddup2(&actions, out_pipe, STDOUT_FILENO);
    else posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, request.stdout_path.c_str(), written, 0644);
    if (err_pipe >= 0) posix_spawn_file_actions_adddup2(&actions, err_pipe, STDERR_FILENO);
    else posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, request.stderr_path.c_str(), written, 0644);
    if (!request.working_directory.empty()) {
        posix_spawn_file_actions_addchdir_np(&actions, request.working_directory.c_str());
    }
}

// A process group of its own (a Ctrl-C at the terminal reaches the driver, which then stops the
// child; a kill reaches all it started), no signal blocked or ignored as the driver's may be.
void own_group(posix_spawnattr_t& attributes) {
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attributes, 0);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setsigdefault(&attributes, &all);
}

// A pipe whose read end the driver keeps; {-1, -1} when `captured` is false or it fails.
bool open_pipe(bool captured, int (&ends)[2], std::string& error) {
    ends[0] = ends[1] = -1;
    if (!captured || pipe2(ends, O_CLOEXEC) == 0) return true;
    error = std::string("pipe: ") + std::strerror(errno);
    return false;
}

void close_if_open(int fd) {
    if (fd >= 0) ::close(fd);
}

}  // namespace

// ---- starting -----------------------------------------------------------------------------------

running_child::running_child(const child_request& request) {
    const std::string& name = request.argv.at(0);
    const std::string program = name.find('/') != std::string::npos ? name : find_program(name);
    if (program.empty()) {
        outcome_.err = fmt::format("program '{}' is not installed (not found on PATH)", name);
        return;
    }
    int out_pipe[2], err_pipe[2];
    if (!open_pipe(request.stdout_path.empty(), out_pipe, outcome_.err)) return;
    if (!open_pipe(request.stderr_path.empty(), err_pipe, outcome_.err)) {
        close_if_open(out_pipe[0]);
        close_if_open(out_pipe[1]);
        return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    redirect(actions, request, out_pipe[1], err_pipe[1]);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    own_group(attributes);
    std::vector<std::string> environment = environment_for(request);
    std::vector<char*> args, envp;
    for (const auto& a : request.argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    for (auto& e : environment) envp.push_back(e.data());
    envp.push_back(nullptr);

    int spawn_error = 0;
    {
        scoped_cpus on(request.cpus);  // the child inherits the CPUs this thread has when it spawns
        outcome_.cpus = allowed_cpus();
        outcome_.cpus_error = on.error();
        start_ = clock::now();
        spawn_error = posix_spawn(&pid_, program.c_str(), &actions, &attributes, args.data(), envp.data());
    }
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    close_if_open(out_pipe[1]);
    close_if_open(err_pipe[1]);
    out_fd_ = out_pipe[0];
    err_fd_ = err_pipe[0];
    if (spawn_error != 0) {
        pid_ = -1;
        close_if_open(std::exchange(out_fd_, -1));
        close_if_open(std::exchange(err_fd_, -1));
        outcome_.err = fmt::format("cannot start {}: {}", program, std::strerror(spawn_error));
        return;
    }
    outcome_.started = true;
}

running_child::~running_child() {
    if (pid_ > 0 && !ended()) kill();  // also what it started, if that still holds its pipes
    close_if_open(out_fd_);
    close_if_open(err_fd_);
}

// ---- waiting ------------------------------------------------------------------------------------

void running_child::try_reap(int options) {
    if (reaped_ || pid_ <= 0) return;
    int status = 0;
    rusage usage{};
    pid_t done;
    do {
        done = ::wait4(pid_, &status, options, &usage);  // this child's account alone: it reaps nothing else
    } while (done < 0 && errno == EINTR);
    if (done != pid_) return;
    reaped_ = true;
    outcome_.seconds = std::chrono::duration<double>(clock::now() - start_).count();
    outcome_.usage = usage;
    outcome_.cpu_seconds = seconds_of(usage.ru_utime) + seconds_of(usage.ru_stime);
    if (WIFEXITED(status)) outcome_.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status)) outcome_.signal = WTERMSIG(status);
}

void running_child::read_pipes(int timeout_ms) {
    pollfd fds[2];
    nfds_t count = 0;
    if (out_fd_ >= 0) fds[count++] = {out_fd_, POLLIN, 0};
    if (err_fd_ >= 0) fds[count++] = {err_fd_, POLLIN, 0};
    if (count == 0) {
        ::usleep(static_cast<useconds_t>(timeout_ms) * 1000);
        return;
    }
    if (::poll(fds, count, timeout_ms) <= 0) return;
    for (nfds_t i = 0; i < count; ++i) {
        if (fds[i].revents == 0) continue;
        if (fds[i].fd == out_fd_) drain(out_fd_, outcome_.out);
        else drain(err_fd_, outcome_.err);
    }
}

bool running_child::wait_until(clock::time_point deadline, const std::atomic<bool>& stop,
                               const std::function<void()>& on_tick) {
    if (pid_ <= 0) return true;
    for (;;) {
        try_reap(WNOHANG);
        if (ended()) return true;
        const auto now = clock::now();
        if (now >= deadline || stop.load()) return false;
        if (on_tick) on_tick();
        // Output and the end of the pipes wake the poll at once, so without a tick to keep (the
        // caller samples the child every millisecond) it waits long; once the pipes are closed,
        // the exit is looked for every 5 ms. Never past the deadline.
        const bool pipes_open = out_fd_ >= 0 || err_fd_ >= 0;
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
        const long tick = on_tick ? 1 : pipes_open ? 100 : 5;
        read_pipes(static_cast<int>(std::clamp<long>(left, 1, tick)));
    }
}

void running_child::terminate() {
    if (pid_ > 0 && !reaped_) ::kill(pid_, SIGTERM);
}

void running_child::kill() {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGKILL);  // the whole group: the child and anything it started
    if (!reaped_) ::kill(pid_, SIGKILL);
    try_reap(0);
    // The group is dead, so the pipes end at once; a process that left the group may hold them:
    // read for a second at most.
    const auto give_up = clock::now() + std::chrono::seconds(1);
    while ((out_fd_ >= 0 || err_fd_ >= 0) && clock::now() < give_up) read_pipes(100);
    close_if_open(std::exchange(out_fd_, -1));
    close_if_open(std::exchange(err_fd_, -1));
}

void running_child::wait_or_kill(clock::time_point deadline, const std::atomic<bool>& stop,
                                 const std::function<void()>& on_tick) {
    if (wait_until(deadline, stop, on_tick)) return;
    outcome_.timed_out = clock::now() >= deadline;
    outcome_.interrupted = !outcome_.timed_out;
    kill();
}

// ---- one call -----------------------------------------------------------------------------------

namespace {
std::atomic<bool> stop_flag{false};
extern "C" void request_stop(int) { stop_flag.store(true); }
}  // namespace

const std::atomic<bool>& stop_requested() { return stop_flag; }

void stop_on_signals() {
    struct sigaction action {};
    action.sa_handler = request_stop;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGHUP, &action, nullptr);
}

child_outcome run_child(const child_request& request, std::chrono::milliseconds limit, const std::atomic<bool>& stop) {
    running_child child(request);
    child.wait_or_kill(child.start() + limit, stop);
    return child.outcome();
}

child_outcome run_child(const std::vector<std::string>& argv, std::chrono::milliseconds limit,
                        const std::atomic<bool>& stop, const std::vector<int>& cpus) {
    child_request request;
    request.argv = argv;
    request.cpus = cpus;
    return run_child(request, limit, stop);
}

std::string find_program(const std::string& name) {
    namespace fs = std::filesystem;
    if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : std::string();
    const char* path = std::getenv("PATH");
    std::string directories = path != nullptr && *path != '\0' ? path : "/usr/local/bin:/usr/bin:/bin";
    directories += ":/usr/sbin:/sbin";  // redis-server is in /usr/bin, but some programs live here
    std::stringstream list(directories);
    std::string directory;
    while (std::getline(list, directory, ':')) {
        if (directory.empty()) continue;
        fs::path candidate = fs::path(directory) / name;
        std::error_code error;
        if (::access(candidate.c_str(), X_OK) == 0 && fs::is_regular_file(candidate, error)) return candidate.string();
    }
    return {};
}

std::string last_line_of(const std::string& text, std::size_t at_most) {
    const auto end = text.find_last_not_of(" \n\r\t");
    if (end == std::string::npos) return {};
    auto start = text.find_last_of("\n\r", end);
    start = start == std::string::npos ? 0 : start + 1;
    return text.substr(start, std::min(end - start + 1, at_most));
}

std::string signal_name(int signal) {
    const char* abbrev = sigabbrev_np(signal);
    return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(signal);
}

}  // namespace allocproof::driver
