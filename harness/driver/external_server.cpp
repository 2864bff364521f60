#include "harness/driver/external_server.hpp"

#include "harness/driver/external_identity.hpp"
#include "harness/driver/external_output.hpp"
#include "harness/driver/text_template.hpp"

#include <fmt/format.h>

#include <signal.h>

#include <algorithm>

namespace allocproof::driver {

namespace {

using namespace std::chrono_literals;

// Asks the server until it answers (true). Otherwise it has died or time is up (false, with the
// failure in `run`), or the driver was asked to stop (false).
bool wait_until_ready(const repetition_setup& setup, const child_request& request, running_child& server,
                      measured_run& run, const std::function<void()>& watch) {
    const external_server& described = *setup.spec.server;
    bool ready = false;
    std::string ready_error;
    while (!ready && external_clock::now() < setup.deadline && !setup.stop.load()) {
        if (server.wait_until(std::min(setup.deadline, external_clock::now() + 20ms), setup.stop, watch)) break;
        const auto answer =
            run_helper(substitute(described.ready_command, setup.variables), setup.folder, "ready", 5s, setup.stop);
        ready = answer.out.find(described.ready_expect) != std::string::npos;
        if (!answer.error.empty()) ready_error = answer.error;
    }
    if (server.ended()) {
        // A server may log to stdout or stderr: quote the last line of either.
        std::string log = read_output(request.stderr_path);
        if (last_line_of(log).empty()) log = read_output(request.stdout_path);
        const std::string what = file_name(setup.program);
        std::string failure = ending_reason(server.outcome(), what, log);
        if (failure.empty()) failure = what + " exited before it answered: " + last_line_of(log);
        run.failure = "server did not start: " + failure;
        return false;
    }
    if (!ready && !setup.stop.load()) {
        run.failure = fmt::format("server did not answer on port {} within the time limit{}",
                                  setup.variables.at("port"), ready_error.empty() ? "" : " (" + ready_error + ")");
    }
    return ready;
}

// Runs the client against the answering server: the measured work.
void run_client(const repetition_setup& setup, measured_run& run, const std::function<void()>& watch) {
    const child_request request =
        program_request(substitute(setup.spec.command, setup.variables), "", setup.folder, "client");
    run.output_path = request.stdout_path;
    running_child client(request);
    if (!client.outcome().started) {
        run.failure = client.outcome().err;
        return;
    }
    run.work_start = client.start();
    client.wait_or_kill(setup.deadline, setup.stop, watch);
    run.work_end = external_clock::now();
    run.wall_seconds = client.outcome().seconds;
    run.raw["client_cpu_seconds"] = client.outcome().cpu_seconds;
    run.failure = ending_reason(client.outcome(), file_name(request.argv.front()), read_output(request.stderr_path));
}

// The after-command: its output's checks and the descriptor's report.
void run_after_command(const repetition_setup& setup, measured_run& run) {
    const auto after = run_helper(substitute(setup.spec.server->after_command, setup.variables), setup.folder, "after",
                                  10s, setup.stop);
    if (!after.ok) run.failure = "the after-command failed: " + after.error;
    run.raw["program_report"] = program_report(setup.spec, after.out);
    if (run.failure.empty()) run.failure = failed_check(setup.spec, "after", after.out, setup.variables);
}

// Stops the server: asks it (its stop_command, or SIGTERM), SIGTERM after 5 s, SIGKILL after 3 s
// more; its rusage is read when it is reaped. A crash on the way out fails the run.
void stop_server(const repetition_setup& setup, const child_request& request, running_child& server,
                 measured_run& run) {
    const external_server& described = *setup.spec.server;
    std::string stopped_by = "stop_command";
    if (!described.stop_command.empty()) {
        run_helper(substitute(described.stop_command, setup.variables), setup.folder, "stop", 5s, setup.stop);
    } else {
        server.terminate();
        stopped_by = "SIGTERM";
    }
    if (!server.wait_until(external_clock::now() + 5s, setup.stop)) {
        server.terminate();
        stopped_by = "SIGTERM";
        if (!server.wait_until(external_clock::now() + 3s, setup.stop)) {
            server.kill();
            stopped_by = "SIGKILL";
        }
    }
    run.end = server.outcome();
    run.raw["server_stopped_by"] = stopped_by;
    run.raw["server_lifetime_seconds"] = run.end.seconds;
    if (run.failure.empty() && stopped_by != "SIGKILL" && run.end.signal != 0 && run.end.signal != SIGTERM) {
        run.failure = ending_reason(run.end, file_name(setup.program),
                                    read_output(request.stdout_path) + read_output(request.stderr_path));
    }
}

}  // namespace

measured_run run_server(const repetition_setup& setup, const child_request& request) {
    measured_run run;
    running_child server(request);
    if (!began_measured(server, request, run)) return run;
    run.work_start = run.work_end = server.start();
    const auto watch = [&] { watch_measured(server.pid(), run); };
    if (!wait_until_ready(setup, request, server, run, watch)) {
        server.kill();
        run.end = server.outcome();
        run.stopped = setup.stop.load();
        return run;
    }
    run.mapped = mapped_libraries(server.pid());
    // A server's idle footprint: what it holds once it answers, before any request.
    const resident_reading answering = read_resident(server.pid());
    if (answering.now > 0) run.idle_bytes = answering.now;
    run.resident.add(external_clock::now(), answering);
    run_client(setup, run, watch);
    if (setup.stop.load()) {
        run.stopped = true;
        return run;  // the server is killed as it goes out of scope
    }
    if (run.failure.empty() && !setup.spec.server->after_command.empty()) run_after_command(setup, run);
    watch();  // the last sample before it stops
    stop_server(setup, request, server, run);
    run.stopped = setup.stop.load();
    return run;
}

}  // namespace allocproof::driver
