#include "harness/driver/callgrind_run.hpp"

#include "harness/driver/matrix.hpp"  // usage_error

#include <fmt/format.h>

#include <filesystem>
#include <sstream>

#include <unistd.h>

namespace allocproof::driver {

namespace fs = std::filesystem;

namespace {

// The program's own words, without valgrind's lines (each begins "==pid==").
std::string program_words(const std::string& err) {
    std::istringstream lines(err);
    std::string said;
    for (std::string text; std::getline(lines, text);) {
        if (text.rfind("==", 0) != 0 && !text.empty()) said += (said.empty() ? "" : " ") + text;
    }
    return said.substr(0, 300);
}

}  // namespace

callgrind_count count_under_callgrind(const std::string& valgrind, std::vector<std::string> argv,
                                      std::chrono::milliseconds limit, const std::atomic<bool>& stop, std::size_t job,
                                      const std::vector<int>& cpus) {
    const fs::path out = fs::temp_directory_path() / fmt::format("allocproof-callgrind-{}-{}.out", ::getpid(), job);
    argv.insert(argv.begin(),
                {valgrind, "--tool=callgrind", "--collect-atstart=no", "--callgrind-out-file=" + out.string()});
    callgrind_count count{run_child(argv, limit, stop, cpus), {}, {}};
    struct remove_at_exit {
        const fs::path& path;
        ~remove_at_exit() {
            std::error_code e;
            fs::remove(path, e);
        }
    } cleanup{out};
    const child_outcome& outcome = count.outcome;
    if (outcome.interrupted) {
        count.error = "stopped";
    } else if (outcome.timed_out) {
        count.error = fmt::format("callgrind ran past {:.0f} s", std::chrono::duration<double>(limit).count());
    } else if (!outcome.started || outcome.exit_code != 0 || outcome.signal != 0) {
        count.error = fmt::format("the cell under callgrind exited with {}{}: {}", outcome.exit_code,
                                  outcome.signal ? " (" + signal_name(outcome.signal) + ")" : "",
                                  outcome.started ? program_words(outcome.err) : outcome.err);
    } else {
        try {
            count.split = split_callgrind_file(out.string());
            if (count.split.total <= 0) {
                count.error =
                    "callgrind collected nothing: the cell program was built without valgrind's client-request "
                    "header (valgrind/callgrind.h)";
            }
        } catch (const std::exception& e) {
            count.error = e.what();
        }
    }
    return count;
}

std::string valgrind_program() {
    const std::string valgrind = find_program("valgrind");
    if (valgrind.empty()) throw usage_error("valgrind is not installed (apt-get install valgrind)");
    return valgrind;
}

}  // namespace allocproof::driver
