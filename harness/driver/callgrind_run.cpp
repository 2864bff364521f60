#include "harness/driver/callgrind_run.hpp"

#include "harness/driver/matrix.hpp"  // usage_error
#include "harness/driver/metric_catalogue.hpp"

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
                                      const callgrind_setup& setup) {
    const fs::path out = fs::temp_directory_path() / fmt::format("allocproof-callgrind-{}-{}.out", ::getpid(), job);
    argv.insert(argv.begin(), setup.tool_options.begin(), setup.tool_options.end());
    argv.insert(argv.begin(),
                {valgrind, "--tool=callgrind", "--collect-atstart=no", "--callgrind-out-file=" + out.string()});
    child_request request;
    request.argv = std::move(argv);
    request.set_environment = setup.environment;
    request.cpus = setup.cpus;
    callgrind_count count{run_child(request, limit, stop), {}, {}};
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
                    "callgrind collected nothing: the program never turned collection on (a cell program built "
                    "without valgrind's client-request header, valgrind/callgrind.h, or no function of that name)";
            }
        } catch (const std::exception& e) {
            count.error = e.what();
        }
    }
    return count;
}

namespace {

// size in bytes, associativity, line size: callgrind's own notation.
constexpr std::pair<const char*, const char*> cache_geometry[] = {
    {"I1", "32768,8,64"}, {"D1", "32768,8,64"}, {"LL", "8388608,16,64"}};

}  // namespace

std::vector<std::string> cache_simulation_options() {
    std::vector<std::string> options{"--cache-sim=yes"};
    for (const auto& [cache, geometry] : cache_geometry) options.push_back(fmt::format("--{}={}", cache, geometry));
    return options;
}

std::string simulated_caches() {
    std::string words;
    for (const auto& [cache, geometry] : cache_geometry)
        words += fmt::format("{}{}={}", words.empty() ? "" : " ", cache, geometry);
    return words;
}

nlohmann::json counted_metrics(const nlohmann::json& derived, const instruction_split& split, double ops) {
    using json = nlohmann::json;
    const double per_op = split.total / ops;
    const double allocation = split.allocation / ops;
    json counts = {{"instructions_per_op", per_op},
                   {"allocation_instructions_per_op", allocation},
                   {"other_instructions_per_op", per_op - allocation},
                   {"allocation_share", allocation / per_op}};
    if (!split.events.empty()) {  // the caches were simulated
        auto per_op_of = [&](std::initializer_list<const char*> events) {
            double total = 0;
            for (const char* event : events) {
                const auto found = split.events.find(event);
                if (found != split.events.end()) total += found->second;
            }
            return total / ops;
        };
        counts["d1_misses_per_op"] = per_op_of({"D1mr", "D1mw"});
        counts["ll_misses_per_op"] = per_op_of({"ILmr", "DLmr", "DLmw"});
    }
    json metrics = json::object();
    for (const std::string& name : metric_names("counted")) {
        metrics[name] = counts.contains(name) ? counts[name] : derived.value(name, json(nullptr));
    }
    return metrics;
}

nlohmann::json instructions_block(const instruction_split& split) {
    nlohmann::json block = {{"tool", "callgrind"}, {"total", split.total}, {"allocation", split.allocation}};
    if (!split.events.empty()) block["events"] = split.events;
    return block;
}

std::string valgrind_program() {
    const std::string valgrind = find_program("valgrind");
    if (valgrind.empty()) throw usage_error("valgrind is not installed (apt-get install valgrind)");
    return valgrind;
}

}  // namespace allocproof::driver
