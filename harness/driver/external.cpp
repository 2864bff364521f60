// One repetition of a real program: the program under a preloaded allocator (a server through
// its lifecycle, external_server.cpp), its rusage and resident memory (external_memory.cpp), the
// evidence of which allocator served malloc (external_identity.cpp), its output checks
// (external_output.cpp); every process through the process layer (child_process.hpp).
#include "harness/driver/external.hpp"

#include "harness/driver/external_identity.hpp"
#include "harness/driver/external_output.hpp"
#include "harness/driver/external_run.hpp"
#include "harness/driver/external_server.hpp"
#include "harness/driver/sql_script.hpp"
#include "harness/driver/text_template.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

namespace allocproof::driver {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A repetition's record (the keys of a model cell's, results/SCHEMA.md), finished with a status.
class program_repetition_record {
public:
    program_repetition_record(unsigned rep, std::size_t order)
        : record_({{"rep", rep},
                   {"order", order},
                   {"status", "failed"},
                   {"reason", nullptr},
                   {"seconds", 0},
                   {"digest", nullptr},
                   {"metrics", nullptr},
                   {"allocator_identity", nullptr},
                   {"raw", nullptr}}) {}
    json& operator[](const char* key) { return record_[key]; }
    external_clock::time_point started() const { return started_; }
    json finish(const std::string& status, const std::string& reason) {
        record_["status"] = status;
        record_["reason"] = reason.empty() ? json(nullptr) : json(reason);
        record_["seconds"] = std::chrono::duration<double>(external_clock::now() - started_).count();
        return record_;
    }

private:
    const external_clock::time_point started_ = external_clock::now();
    json record_;
};

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

// The measured program's run with `variables` (the measured run's or the idle run's): its command
// under the preload, its output to <tag>.out and .err, its generated input, if any, on stdin.
// Sets {statements} to the input's count.
child_request measured_request(const repetition_setup& setup, std::map<std::string, std::string>& variables,
                               std::uint64_t seed, const std::string& tag) {
    const external_spec& spec = setup.spec;
    child_request request = program_request(substitute(spec.server ? spec.server->command : spec.command, variables),
                                            setup.preload, setup.folder, tag);
    request.argv.front() = setup.program;
    if (!spec.input_generator.empty()) {
        request.stdin_path = (setup.folder / (tag + ".in")).string();
        variables["statements"] = std::to_string(write_input(spec, seed, variables, request.stdin_path));
    }
    return request;
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
idle_outcome run_idle(const repetition_setup& setup, std::uint64_t seed) {
    idle_outcome outcome;
    if (setup.spec.idle.empty() || setup.spec.server) return outcome;
    std::map<std::string, std::string> variables = setup.variables;
    for (const auto& [name, value] : setup.spec.idle) variables[name] = value;
    const fs::path idle_folder = setup.folder / "idle";
    fs::create_directories(idle_folder);
    variables["tmpdir"] = idle_folder.string();
    const child_request request = measured_request(setup, variables, seed, "idle");
    resident_samples samples;
    running_child idle(request);
    if (!idle.outcome().started) {
        outcome.failure = "the idle run: " + idle.outcome().err;
        return outcome;
    }
    idle.wait_or_kill(setup.deadline, setup.stop,
                      [&] { samples.add(external_clock::now(), read_resident(idle.pid())); });
    const child_outcome& end = idle.outcome();
    outcome.failure =
        ending_reason(end, "the idle run of " + file_name(setup.program), read_output(request.stderr_path));
    if (end.timed_out || end.interrupted) return outcome;
    // None when it ended before a sample of its second half: then the metric is null, not zero.
    outcome.bytes = samples.steady(idle.start(), idle.start() + std::chrono::duration_cast<external_clock::duration>(
                                                                    std::chrono::duration<double>(end.seconds)));
    outcome.raw = {{"command", request.argv},
                   {"seconds", end.seconds},
                   {"samples", samples.count()},
                   {"peak_bytes", samples.peak()}};
    return outcome;
}

// A program that is not a server: its run is the measured work.
measured_run run_program(const repetition_setup& setup, const child_request& request) {
    measured_run run;
    running_child program(request);
    if (!began_measured(program, request, run)) return run;
    program.wait_or_kill(setup.deadline, setup.stop, [&] { watch_measured(program.pid(), run); });
    run.stopped = program.outcome().interrupted;
    run.end = program.outcome();
    run.wall_seconds = run.end.seconds;
    run.work_start = program.start();
    run.work_end = program.start() +
                   std::chrono::duration_cast<external_clock::duration>(std::chrono::duration<double>(run.end.seconds));
    run.failure = ending_reason(run.end, file_name(setup.program), read_output(request.stderr_path));
    return run;
}

// The metrics of the measured run from its rusage and resident samples; `raw` says where the
// peak came from.
json rusage_metrics(const measured_run& run, std::uint64_t driver_peak, std::optional<std::uint64_t> idle_bytes,
                    json& raw) {
    const rusage& usage = run.end.usage;
    const auto rusage_peak = static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;
    raw["rss_peak_source"] = rusage_peak > driver_peak ? "ru_maxrss (exact)" : "VmHWM sampled every millisecond";
    raw["rss_samples"] = run.resident.count();
    raw["rusage_maxrss_bytes"] = rusage_peak;
    raw["driver_peak_rss_bytes_at_spawn"] = driver_peak;
    const auto seconds = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    json metrics = {
        {"wall_seconds", run.wall_seconds},
        {"user_seconds", seconds(usage.ru_utime)},
        {"system_seconds", seconds(usage.ru_stime)},
        {"cpu_seconds", seconds(usage.ru_utime) + seconds(usage.ru_stime)},
        {"rss_peak_bytes", rusage_peak > driver_peak ? rusage_peak : run.resident.peak()},
        {"minor_faults", usage.ru_minflt},
        {"major_faults", usage.ru_majflt},
        {"context_switches", usage.ru_nvcsw + usage.ru_nivcsw},
        {"program_throughput", nullptr},
        {"rss_steady_bytes", nullptr},
        {"rss_idle_bytes", idle_bytes ? json(*idle_bytes) : json(nullptr)},
        {"rss_steady_over_idle_bytes", nullptr},
    };
    if (const auto steady = run.resident.steady(run.work_start, run.work_end)) {
        metrics["rss_steady_bytes"] = *steady;
        if (idle_bytes) {
            metrics["rss_steady_over_idle_bytes"] =
                static_cast<std::int64_t>(*steady) - static_cast<std::int64_t>(*idle_bytes);
        }
    }
    return metrics;
}

// The record of a measured run: the identity's evidence, the output's checks, the metrics.
json record_run(const repetition_setup& setup, const measured_run& run, json identity, json raw,
                std::uint64_t driver_peak, std::optional<std::uint64_t> idle_bytes, program_repetition_record& record) {
    const std::string mismatch = confirm_identity(identity, setup.preload, run.mapped);
    record["allocator_identity"] = identity;
    if (!mismatch.empty()) return record.finish("failed", mismatch);

    const std::string output = read_output(run.output_path);
    raw["stdout_tail"] = output.size() > 2000 ? output.substr(output.size() - 2000) : output;
    std::string failure = run.failure;
    if (failure.empty()) failure = failed_check(setup.spec, "stdout", output, setup.variables);
    json metrics = rusage_metrics(run, driver_peak, idle_bytes, raw);
    const std::string no_throughput = add_throughput(setup.spec, output, setup.variables, run.wall_seconds, metrics);
    if (failure.empty()) failure = no_throughput;
    record["raw"] = raw;
    if (!failure.empty()) return record.finish("failed", failure);
    if (setup.spec.digest_stdout) record["digest"] = digest_of(output);
    record["metrics"] = metrics;
    return record.finish("ok", "");
}

// Runs the measured program (after its idle run) once its allocator is known to serve malloc.
std::optional<json> measure(repetition_setup& setup, const external_run_settings& settings, const std::string& scale,
                            const json& identity, program_repetition_record& record) {
    const child_request request = measured_request(setup, setup.variables, settings.seed, "program");
    json raw = {{"command", request.argv}, {"variables", setup.variables}, {"scale", scale}};
    const idle_outcome idle = run_idle(setup, settings.seed);
    if (setup.stop.load()) return std::nullopt;
    if (!idle.failure.empty()) return record.finish("failed", idle.failure);
    raw["idle_run"] = idle.raw;

    const std::uint64_t driver_peak = own_peak_rss();
    const measured_run run = setup.spec.server ? run_server(setup, request) : run_program(setup, request);
    if (run.stopped || setup.stop.load()) return std::nullopt;
    if (!run.end.started) return record.finish("failed", run.failure);
    raw.update(run.raw);
    return record_run(setup, run, identity, raw, driver_peak, run.idle_bytes ? run.idle_bytes : idle.bytes, record);
}

}  // namespace

std::optional<json> run_external_repetition(const external_spec& spec, const std::string& allocator, unsigned rep,
                                            std::size_t order, const external_run_settings& settings,
                                            const std::atomic<bool>& stop) {
    program_repetition_record record(rep, order);
    if (const auto missing = missing_programs(spec); !missing.empty()) {
        return record.finish("failed", fmt::format("program '{}' is not installed{}", fmt::join(missing, "', '"),
                                                   spec.package.empty() ? "" : " (package " + spec.package + ")"));
    }
    const std::string program = find_program(spec.program());
    std::string preload;
    try {
        preload = preload_library(allocator);
    } catch (const std::runtime_error& e) {
        return record.finish("failed", e.what());
    }
    std::string not_in_effect;
    const json identity = identity_before_run(spec, program, allocator, preload, stop, not_in_effect);
    if (!not_in_effect.empty()) {
        record["allocator_identity"] = identity;
        return record.finish("not_applicable", not_in_effect);
    }

    scratch_folder folder;
    const std::string scale = external_scale(spec, settings.scale, settings.real_program_sizes);
    repetition_setup setup{
        spec, program, preload, spec.scales.at(scale), folder.path(), record.started() + settings.limit, stop};
    setup.variables["tmpdir"] = folder.path().string();
    setup.variables["seed"] = std::to_string(settings.seed);
    setup.variables["port"] = std::to_string(free_loopback_port());
    setup.variables["threads"] = std::to_string(spec.threads);
    try {
        return measure(setup, settings, scale, identity, record);
    } catch (const template_error& e) {  // the descriptor's check refuses these: a fault of ours
        return record.finish("failed", e.what());
    }
}

}  // namespace allocproof::driver
