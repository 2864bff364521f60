#include "harness/driver/child_process.hpp"

#include "harness/driver/cpu_affinity.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace allocproof::driver {

namespace {

constexpr std::size_t output_limit = 64 * 1024 * 1024;  // a child that floods us is cut off

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

}  // namespace

std::string signal_name(int signal) {
    const char* abbrev = sigabbrev_np(signal);
    return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(signal);
}

child_outcome run_child(const std::vector<std::string>& argv, std::chrono::milliseconds limit,
                        const std::atomic<bool>& stop, const std::vector<int>& cpus) {
    child_outcome outcome;
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0) {
        outcome.err = std::string("pipe: ") + std::strerror(errno);
        return outcome;
    }
    if (pipe2(err_pipe, O_CLOEXEC) != 0) {
        outcome.err = std::string("pipe: ") + std::strerror(errno);
        ::close(out_pipe[0]);
        ::close(out_pipe[1]);
        return outcome;
    }

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                              POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attributes, 0);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setsigdefault(&attributes, &all);

    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);

    const auto start = std::chrono::steady_clock::now();
    pid_t pid = -1;
    int spawn_error = 0;
    {
        scoped_cpus on(cpus);  // the child inherits the CPUs this thread has when it spawns
        outcome.cpus = allowed_cpus();
        outcome.cpus_error = on.error();
        spawn_error = posix_spawn(&pid, args[0], &actions, &attributes, args.data(), environ);
    }
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    if (spawn_error != 0) {
        ::close(out_pipe[0]);
        ::close(err_pipe[0]);
        outcome.err = "cannot start " + argv[0] + ": " + std::strerror(spawn_error);
        return outcome;
    }
    outcome.started = true;

    int out_fd = out_pipe[0], err_fd = err_pipe[0];
    bool killed = false;
    while (out_fd >= 0 || err_fd >= 0) {
        auto elapsed = std::chrono::steady_clock::now() - start;
        if (!killed && (elapsed >= limit || stop.load())) {
            outcome.timed_out = elapsed >= limit;
            outcome.interrupted = !outcome.timed_out;
            ::kill(-pid, SIGKILL);  // the whole group: the cell and anything it started
            killed = true;
        }
        pollfd fds[2];
        nfds_t count = 0;
        if (out_fd >= 0) fds[count++] = {out_fd, POLLIN, 0};
        if (err_fd >= 0) fds[count++] = {err_fd, POLLIN, 0};
        int ready = ::poll(fds, count, 100);  // wake up now and then to check the clock
        if (ready <= 0) continue;
        for (nfds_t i = 0; i < count; ++i) {
            if (fds[i].revents == 0) continue;
            if (fds[i].fd == out_fd) drain(out_fd, outcome.out);
            else drain(err_fd, outcome.err);
        }
    }
    // The pipes can close before the process ends (a child that closes its output and hangs):
    // keep to the time limit while waiting for it too.
    int status = 0;
    rusage usage{};
    for (;;) {
        pid_t done = ::wait4(pid, &status, WNOHANG, &usage);
        if (done == pid) {
            auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
            outcome.cpu_seconds = seconds(usage.ru_utime) + seconds(usage.ru_stime);
            break;
        }
        if (done < 0 && errno != EINTR) break;
        auto elapsed = std::chrono::steady_clock::now() - start;
        if (!killed && (elapsed >= limit || stop.load())) {
            outcome.timed_out = elapsed >= limit;
            outcome.interrupted = !outcome.timed_out;
            ::kill(-pid, SIGKILL);
            killed = true;
        }
        ::usleep(5000);
    }
    outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (WIFEXITED(status)) {
        outcome.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        outcome.signal = WTERMSIG(status);
    }
    return outcome;
}

}  // namespace allocproof::driver
