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
    double seconds = 0;
};

// Runs argv[0] with argv in its own process group (a Ctrl-C at the terminal reaches the driver,
// which then stops the child), kills it with SIGKILL once `limit` has passed or `stop` is set.
child_outcome run_child(const std::vector<std::string>& argv, std::chrono::milliseconds limit,
                        const std::atomic<bool>& stop);

// "SIGSEGV", "SIGKILL", ...
std::string signal_name(int signal);

}  // namespace allocproof::driver
