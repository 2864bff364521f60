#include "harness/driver/matrix_catalogue.hpp"

#include "harness/driver/child_process.hpp"
#include "harness/driver/exit_codes.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>

namespace allocproof::driver {

using json = nlohmann::json;

matrix_catalogue matrix_catalogue::from_description(const json& description) {
    try {
        if (!description.is_object() || description.at("schema").get<std::string>() != build_description_schema) {
            throw usage_error(fmt::format("the build's description is not of schema {}", build_description_schema));
        }
        matrix_catalogue c;
        for (const auto& w : description.at("workloads")) {
            c.workloads_.push_back(workload_traits_from_json(w, c.text_));
        }
        for (const auto& s : description.at("strategies")) {
            c.strategies_.push_back(strategy_traits_from_json(s, c.text_));
        }
        for (const auto& [workload, strategies] : description.at("cells").items()) {
            if (c.find_workload(workload) == nullptr) {
                throw usage_error(
                    fmt::format("the build's description has cells of an unknown workload '{}'", workload));
            }
            for (const auto& strategy : strategies) {
                if (c.find_strategy(strategy.get<std::string>()) == nullptr) {
                    throw usage_error(
                        fmt::format("the build's description has a cell of an unknown strategy {}", strategy.dump()));
                }
                c.cells_.emplace(workload, strategy.get<std::string>());
            }
        }
        c.conflicts_ = description.at("conflicts").get<std::vector<std::string>>();
        for (const auto& plugin : description.at("plugins")) {
            c.plugins_.push_back({{"path", plugin.at("path").get<std::string>()},
                                  {"name", plugin.at("name").get<std::string>()},
                                  {"abi_tag", plugin.at("abi_tag").get<std::string>()},
                                  {"strategies", plugin.at("strategies").get<std::vector<std::string>>()}});
        }
        return c;
    } catch (const json::exception& error) {
        throw usage_error(fmt::format("the build's description is malformed ({})", error.what()));
    }
}

const workload_traits* matrix_catalogue::find_workload(std::string_view name) const {
    auto it = std::ranges::find(workloads_, name, &workload_traits::name);
    return it == workloads_.end() ? nullptr : &*it;
}

const strategy_traits* matrix_catalogue::find_strategy(std::string_view name) const {
    auto it = std::ranges::find(strategies_, name, &strategy_traits::name);
    return it == strategies_.end() ? nullptr : &*it;
}

bool matrix_catalogue::has_cell(std::string_view workload, std::string_view strategy) const {
    return cells_.contains(std::pair<std::string, std::string>(workload, strategy));
}

std::vector<std::string> matrix_catalogue::strategies_serving(std::string_view workload) const {
    std::vector<std::string> names;
    for (const auto& s : strategies_) {
        if (has_cell(workload, s.name)) names.emplace_back(s.name);
    }
    return names;
}

namespace {

// What a describe that went wrong is put down to, in its one line: the plugins when there are
// some (loading them is what can fail), otherwise the cell program.
struct describer {
    std::string who;    // "plugin /x/libp.so", "the plugins", "cell program /x/allocproof-cell-glibc"
    std::string doing;  // "loading", "describing the build"
    std::string quiet;  // why nothing may come on standard output before the description
};

describer describer_of(const std::filesystem::path& program, const std::vector<std::string>& plugins) {
    if (plugins.empty()) {
        return {"cell program " + program.string(), "describing the build",
                "the cell program's standard output is its description"};
    }
    return {plugins.size() == 1 ? "plugin " + plugins.front() : std::string("the plugins"), "loading",
            "a plugin must not write to standard output, where each cell's record goes"};
}

std::string first_line(const std::string& text) {
    std::string line = text.substr(0, text.find('\n'));
    const std::string prefix = "allocproof-cell: ";
    return line.starts_with(prefix) ? line.substr(prefix.size()) : line;
}

// Text on one line, quoted and escaped, cut at 200 bytes: it goes into a one-line error.
std::string quoted(const std::string& text) {
    constexpr std::size_t shown = 200;
    return json(text.substr(0, shown)).dump(-1, ' ', false, json::error_handler_t::replace) +
           (text.size() > shown ? "..." : "");
}

std::string without_trailing_space(const std::string& text) {
    const auto end = text.find_last_not_of(" \n\r\t");
    return end == std::string::npos ? std::string() : text.substr(0, end + 1);
}

// Throws for any ending of the cell program but exit code 0.
void check_ending(const child_outcome& outcome, const describer& d, std::chrono::milliseconds limit) {
    if (!outcome.started) throw usage_error(fmt::format("{}: {}", d.who, outcome.err));
    if (outcome.timed_out) {
        throw usage_error(fmt::format("{}: still {} after {:.1f} s; it hangs", d.who, d.doing,
                                      std::chrono::duration<double>(limit).count()));
    }
    if (outcome.signal != 0) {
        throw usage_error(fmt::format("{}: crashed while {} ({})", d.who, d.doing, signal_name(outcome.signal)));
    }
    // The cell program refuses a plugin it cannot load (not a library, no entry point, another
    // build's tag) with exit code 2 and one line of its own, which names the plugin.
    if (outcome.exit_code == 2 && outcome.err.starts_with("allocproof-cell: ")) {
        throw usage_error(first_line(outcome.err));
    }
    if (outcome.exit_code != 0) {
        const std::string printed = without_trailing_space(outcome.out);
        const std::string complained = without_trailing_space(outcome.err);
        const std::string said = printed.empty() && complained.empty() ? std::string(", printing nothing")
                                 : printed.empty() ? ", after writing " + quoted(complained) + " to standard error"
                                                   : ", after printing " + quoted(printed);
        throw usage_error(fmt::format("{}: exited with code {} while {}{}", d.who, outcome.exit_code, d.doing, said));
    }
}

// The description is the cell program's last line, an object whose keys come sorted (nlohmann's
// dump), "abi_tag" first: whatever comes before it, on its line or the lines above, a plugin printed.
json description_in(const std::string& output, const describer& d) {
    const std::string printed = without_trailing_space(output);
    const auto last_line = printed.rfind('\n');
    const auto start = printed.find("{\"abi_tag\"", last_line == std::string::npos ? 0 : last_line + 1);
    const json described =
        start == std::string::npos ? json(nullptr) : json::parse(printed.substr(start), nullptr, false);
    if (!described.is_object()) {
        throw usage_error(fmt::format("{}: exited with code 0 while {}, with no description of the build{}", d.who,
                                      d.doing,
                                      printed.empty() ? ", printing nothing" : ", after printing " + quoted(printed)));
    }
    if (const std::string before = without_trailing_space(printed.substr(0, start)); !before.empty()) {
        throw usage_error(fmt::format("{}: printed {} while {}; {}", d.who, quoted(before), d.doing, d.quiet));
    }
    if (described.value("schema", "") != build_description_schema) {
        throw usage_error(
            fmt::format("{}: the cell program described the build in a form this driver does not read "
                        "(schema {}, not {})",
                        d.who, described.value("schema", json(nullptr)).dump(), build_description_schema));
    }
    return described;
}

}  // namespace

matrix_catalogue describe_build(const std::filesystem::path& cell_program, const std::vector<std::string>& plugins,
                                std::chrono::milliseconds limit) {
    std::vector<std::string> argv = {cell_program.string(), "--describe"};
    for (const auto& path : plugins) argv.insert(argv.end(), {"--plugin", path});
    const std::atomic<bool> never{false};
    const child_outcome outcome = run_child(argv, limit, never);
    const describer d = describer_of(cell_program, plugins);
    check_ending(outcome, d, limit);
    try {
        return matrix_catalogue::from_description(description_in(outcome.out, d));
    } catch (const usage_error& error) {
        throw usage_error(fmt::format("{}: {}", d.who, error.what()));
    }
}

}  // namespace allocproof::driver
