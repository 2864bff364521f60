// The driver's process layer (harness/driver/child_process.hpp) and its one template
// substitution (harness/driver/text_template.hpp), reached directly rather than through the binary.
#include "harness/driver/child_process.hpp"
#include "harness/driver/text_template.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace fs = std::filesystem;
using allocproof::driver::child_outcome;
using allocproof::driver::child_request;
using allocproof::driver::run_child;

namespace {

const std::atomic<bool> never{false};

child_outcome shell(const std::string& script, std::chrono::milliseconds limit = std::chrono::seconds(60)) {
    return run_child({"/bin/sh", "-c", script}, limit, never);
}

// Whether `pid` is gone or a zombie (its parent has not reaped it yet): it runs no more.
bool ended(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return true;
    const auto state = line.find(") ");
    return state != std::string::npos && (line[state + 2] == 'Z' || line[state + 2] == 'X');
}

class Folder {
public:
    Folder() : path_(fs::temp_directory_path() / ("allocproof-process-" + std::to_string(::getpid()))) {
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~Folder() { fs::remove_all(path_); }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

}  // namespace

// ---- processes ----------------------------------------------------------------------------------

TEST(ProcessLayer, CapturesBothOutputsAndTheExitCode) {
    const child_outcome r = shell("echo to-stdout; echo to-stderr >&2; exit 7");
    EXPECT_TRUE(r.started);
    EXPECT_EQ(r.exit_code, 7);
    EXPECT_EQ(r.signal, 0);
    EXPECT_FALSE(r.timed_out);
    EXPECT_FALSE(r.interrupted);
    EXPECT_EQ(r.out, "to-stdout\n");
    EXPECT_EQ(r.err, "to-stderr\n");
}

TEST(ProcessLayer, NamesTheSignalThatEndedTheChild) {
    const child_outcome r = shell("kill -SEGV $$");
    EXPECT_TRUE(r.started);
    EXPECT_EQ(r.signal, SIGSEGV);
    EXPECT_EQ(r.exit_code, -1);
    EXPECT_EQ(allocproof::driver::signal_name(r.signal), "SIGSEGV");
}

TEST(ProcessLayer, AChildPastItsDeadlineIsKilledWithItsWholeGroup) {
    // The child starts a grandchild that would outlive it, says its pid, and waits.
    const child_outcome r = shell("sleep 300 & echo $!; wait", std::chrono::milliseconds(500));
    EXPECT_TRUE(r.timed_out);
    EXPECT_FALSE(r.interrupted);
    EXPECT_EQ(r.signal, SIGKILL);
    const pid_t grandchild = std::stoi(r.out);
    ASSERT_GT(grandchild, 0) << r.out;
    // The kill is sent before run_child returns; the kernel ends the grandchild a moment later.
    for (int i = 0; i < 1000 && !ended(grandchild); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(ended(grandchild)) << "the grandchild " << grandchild << " survived its group's kill";
}

TEST(ProcessLayer, AStopRequestInterruptsTheChild) {
    const std::atomic<bool> stop{true};
    const child_outcome r = run_child({"/bin/sleep", "300"}, std::chrono::seconds(60), stop);
    EXPECT_TRUE(r.started);
    EXPECT_TRUE(r.interrupted);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.signal, SIGKILL);
}

TEST(ProcessLayer, TheKernelsAccountOfCpuTimeIsReported) {
    const child_outcome r = shell("i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_GT(r.cpu_seconds, 0);
    // One thread cannot use more CPU than the wall time it ran; the wall time is taken around the
    // spawn and the reap, so it holds the child's whole life (1 ms for rounding to microseconds).
    EXPECT_LE(r.cpu_seconds, r.seconds + 1e-3);
    EXPECT_GT(r.usage.ru_maxrss, 0);
}

TEST(ProcessLayer, EnvironmentWorkingDirectoryAndOutputFilesAreTheRequests) {
    Folder folder;
    ::setenv("ALLOCPROOF_PROCESS_TEST_DROPPED", "inherited", 1);
    ::setenv("ALLOCPROOF_PROCESS_TEST_REPLACED", "inherited", 1);
    child_request request;
    request.argv = {"sh", "-c",  // a bare name is looked up on PATH
                    "echo \"${ALLOCPROOF_PROCESS_TEST_DROPPED-dropped} $ALLOCPROOF_PROCESS_TEST_REPLACED $(pwd)\"; "
                    "echo complaint >&2"};
    request.unset_environment = {"ALLOCPROOF_PROCESS_TEST_DROPPED"};
    request.set_environment = {"ALLOCPROOF_PROCESS_TEST_REPLACED=set"};
    request.working_directory = folder.path().string();
    request.stdout_path = (folder.path() / "out.txt").string();
    request.stderr_path = (folder.path() / "err.txt").string();
    const child_outcome r = run_child(request, std::chrono::seconds(60), never);
    ::unsetenv("ALLOCPROOF_PROCESS_TEST_DROPPED");
    ::unsetenv("ALLOCPROOF_PROCESS_TEST_REPLACED");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "");  // written to the file instead
    std::stringstream out, err;
    out << std::ifstream(request.stdout_path).rdbuf();
    err << std::ifstream(request.stderr_path).rdbuf();
    EXPECT_EQ(out.str(), "dropped set " + fs::canonical(folder.path()).string() + "\n");
    EXPECT_EQ(err.str(), "complaint\n");
}

TEST(ProcessLayer, AProgramThatIsNotInstalledDoesNotStart) {
    const child_outcome r = run_child({"allocproof-no-such-program"}, std::chrono::seconds(5), never);
    EXPECT_FALSE(r.started);
    EXPECT_NE(r.err.find("'allocproof-no-such-program' is not installed"), std::string::npos) << r.err;
    const child_outcome by_path = run_child({"/no/such/program"}, std::chrono::seconds(5), never);
    EXPECT_FALSE(by_path.started);
    EXPECT_NE(by_path.err.find("cannot start /no/such/program"), std::string::npos) << by_path.err;
}

// ---- templates ----------------------------------------------------------------------------------

TEST(ProcessLayerTemplates, KnownNamesAreReplaced) {
    using allocproof::driver::substitute;
    const std::map<std::string, std::string> variables = {{"tmpdir", "/tmp/x"}, {"n", "40"}};
    EXPECT_EQ(substitute("--db={tmpdir}/db", variables), "--db=/tmp/x/db");
    EXPECT_EQ(substitute("{n}{n} of {n}", variables), "4040 of 40");
    EXPECT_EQ(substitute("no placeholder", variables), "no placeholder");
    EXPECT_EQ(substitute(std::vector<std::string>{"{n}", "-v"}, variables), (std::vector<std::string>{"40", "-v"}));
    EXPECT_EQ(allocproof::driver::placeholders("{a}-{b}-{a}"), (std::vector<std::string>{"a", "b", "a"}));
}

TEST(ProcessLayerTemplates, AnUnknownNameIsRefusedWithTheTemplateQuoted) {
    try {
        allocproof::driver::substitute("--x={nope}", {{"n", "1"}});
        FAIL() << "an unknown name was replaced";
    } catch (const allocproof::driver::template_error& e) {
        EXPECT_STREQ(e.what(), "'--x={nope}' uses {nope}, which is not defined");
    }
}

TEST(ProcessLayerTemplates, DoubledBracesAreLiteralAndAnUnclosedOneIsRefused) {
    using allocproof::driver::placeholders;
    using allocproof::driver::substitute;
    using allocproof::driver::template_error;
    EXPECT_EQ(substitute(R"({{"n": {n}}})", {{"n", "1"}}), R"({"n": 1})");
    EXPECT_EQ(substitute("awk '{{print $1}}'", {}), "awk '{print $1}'");
    EXPECT_TRUE(placeholders("{{n}}").empty());
    EXPECT_EQ(substitute("a}b", {}), "a}b");  // a lone closing brace closes nothing
    EXPECT_THROW(placeholders("--x={n"), template_error);
    EXPECT_THROW(placeholders("--x={a{b}"), template_error);
    EXPECT_THROW(placeholders("--x={}"), template_error);
}
