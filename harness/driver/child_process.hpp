// Running one cell program as a child process, with a time limit and its output captured.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

namespace allocproof::driver {

struct child_outcome {
    bool started = false;
    int exit_code = -1;   // when it exited normally
    int signal = 0;       // when a signal ended it
    bool timed_out = false;
    bool interrupted = false;  // the driver was asked to stop while the child ran
    std::string out;
    std::string err;
    double seconds = 0;      // from spawn to exit, as the driver saw it
    // The child's CPU time, user + system over all its threads and the children it waited for
    // (wait4's rusage): what the kernel accounted, whatever the child says. < 0 when unknown.
    double cpu_seconds = -1;
    std::vector<int> cpus;   // the CPUs the child was allowed to run on
    std::string cpus_error;  // why it did not get the CPUs asked for ("" when it did)
};

// Runs argv[0] with argv in its own process group (a Ctrl-C at the terminal reaches the driver,
// which then stops the child), kills it with SIGKILL once `limit` has passed or `stop` is set.
// The child runs on `cpus`, or on the caller's CPUs when `cpus` is empty or cannot be set.
child_outcome run_child(const std::vector<std::string>& argv, std::chrono::milliseconds limit,
                        const std::atomic<bool>& stop, const std::vector<int>& cpus = {});

// "SIGSEGV", "SIGKILL", ...
std::string signal_name(int signal);

}  // namespace allocproof::driver
