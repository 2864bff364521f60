// The process layer: every program the driver starts (a cell program, a real program, its server
// and helpers, valgrind, the claims evaluator) runs through here. A child runs in a process group
// of its own, so that a deadline or a stop kills it with everything it started, and the kernel's
// account of it (wait4's rusage) is what the driver records, whatever the child says.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace allocproof::driver {

struct child_outcome {
    bool started = false;
    int exit_code = -1;  // when it exited normally
    int signal = 0;      // when a signal ended it
    bool timed_out = false;
    bool interrupted = false;  // the driver was asked to stop while the child ran
    std::string out;           // its stdout, when captured through a pipe
    std::string err;           // its stderr, when captured; why it did not start, when it did not
    double seconds = 0;        // from spawn to exit, as the driver saw it
    // The child's CPU time, user + system over all its threads and the children it waited for
    // (wait4's rusage): what the kernel accounted, whatever the child says. < 0 when unknown.
    double cpu_seconds = -1;
    rusage usage{};          // all of wait4's account (peak RSS, faults, switches); zeros when unknown
    std::vector<int> cpus;   // the CPUs the child was allowed to run on
    std::string cpus_error;  // why it did not get the CPUs asked for ("" when it did)
};

struct child_request {
    std::vector<std::string> argv;               // argv[0]: a path, or a bare name looked up as find_program does
    std::vector<std::string> set_environment;    // NAME=VALUE, in place of the driver's NAME if any
    std::vector<std::string> unset_environment;  // NAMEs of the driver's environment it does not get
    std::string working_directory;               // empty: the driver's
    std::string stdin_path = "/dev/null";
    // Empty: captured through a pipe into child_outcome::out / err. A path: written to that file,
    // for a child that runs while the driver waits on others (a server), whose pipe nobody would
    // drain. Paths are opened before the child changes to working_directory.
    std::string stdout_path, stderr_path;
    std::vector<int> cpus;  // the CPUs it runs on; empty: the caller's
};

// A started child. Its destructor kills the group and reaps the child if it still runs, so that
// no path out of the caller leaves a process behind.
class running_child {
public:
    using clock = std::chrono::steady_clock;

    // Starts it; outcome().started says whether it did, and outcome().err why not.
    explicit running_child(const child_request& request);
    ~running_child();
    running_child(const running_child&) = delete;
    running_child& operator=(const running_child&) = delete;

    pid_t pid() const { return pid_; }
    clock::time_point start() const { return start_; }
    bool ended() const { return reaped_ && out_fd_ < 0 && err_fd_ < 0; }

    // Waits until the child has exited and closed its pipes (true), or `deadline` has passed or
    // `stop` is set (false: it still runs). Reads its pipes meanwhile and calls `on_tick` about
    // every millisecond.
    bool wait_until(clock::time_point deadline, const std::atomic<bool>& stop,
                    const std::function<void()>& on_tick = {});
    // The same, but past the deadline (timed_out) or on a stop (interrupted) kills the group: the
    // child has ended when it returns.
    void wait_or_kill(clock::time_point deadline, const std::atomic<bool>& stop,
                      const std::function<void()>& on_tick = {});
    // SIGTERM to the child alone, which may stop what it started in its own way.
    void terminate();
    // SIGKILL to the whole group; reaps the child and reads what its pipes still hold.
    void kill();

    const child_outcome& outcome() const { return outcome_; }

private:
    void try_reap(int options);
    void read_pipes(int timeout_ms);

    pid_t pid_ = -1;
    clock::time_point start_;
    bool reaped_ = false;
    int out_fd_ = -1, err_fd_ = -1;
    child_outcome outcome_;
};

// Runs `request` to its end; kills the group with SIGKILL once `limit` has passed (timed_out) or
// `stop` is set (interrupted).
child_outcome run_child(const child_request& request, std::chrono::milliseconds limit, const std::atomic<bool>& stop);
// The same for argv alone, its output captured, on `cpus` (or the caller's CPUs when empty or
// when they cannot be set).
child_outcome run_child(const std::vector<std::string>& argv, std::chrono::milliseconds limit,
                        const std::atomic<bool>& stop, const std::vector<int>& cpus = {});

// The driver's stop: set once SIGINT, SIGTERM or SIGHUP arrives after stop_on_signals(), which
// `run` and `instructions` call; every child run with it is killed, and the command keeps what it
// finished and says how to go on.
const std::atomic<bool>& stop_requested();
void stop_on_signals();

// The absolute path of a program (PATH search for a bare name), or empty when not installed.
std::string find_program(const std::string& name);

// The last non-blank line of a child's output, at most `at_most` characters: what a failure quotes.
std::string last_line_of(const std::string& text, std::size_t at_most = 300);

// "SIGSEGV", "SIGKILL", ...
std::string signal_name(int signal);

}  // namespace allocproof::driver
