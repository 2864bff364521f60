#include "harness/driver/plugins.hpp"

#include "allocproof/registry.hpp"
#include "harness/driver/child_process.hpp"
#include "harness/driver/matrix.hpp"
#include "harness/driver/run.hpp"
#include "harness/traits_json.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <filesystem>

namespace allocproof::driver {

using json = nlohmann::json;

namespace {

// The strings of registered plugin strategies: the registry holds views into them.
std::deque<std::string>& plugin_strings() {
    static std::deque<std::string> strings;
    return strings;
}

std::string first_line(const std::string& text) {
    std::string line = text.substr(0, text.find('\n'));
    const std::string prefix = "allocproof-cell: ";
    return line.starts_with(prefix) ? line.substr(prefix.size()) : line;
}

// A plugin's text on one line, quoted and escaped, cut at 200 bytes: it goes into a one-line error.
std::string quoted(const std::string& text) {
    constexpr std::size_t shown = 200;
    return json(text.substr(0, shown)).dump(-1, ' ', false, json::error_handler_t::replace) +
           (text.size() > shown ? "..." : "");
}

std::string without_trailing_space(const std::string& text) {
    const auto end = text.find_last_not_of(" \n\r\t");
    return end == std::string::npos ? std::string() : text.substr(0, end + 1);
}

json describe(const std::vector<std::string>& paths, std::chrono::milliseconds load_limit) {
    const auto allocators = available_allocators();
    if (allocators.empty()) throw usage_error("no cell program beside the driver to load the plugins");
    std::vector<std::string> argv = {cell_program(allocators.front()).string(), "--describe-plugins"};
    for (const auto& path : paths) argv.insert(argv.end(), {"--plugin", path});
    std::atomic<bool> never{false};
    const child_outcome outcome = run_child(argv, load_limit, never);
    const std::string which = paths.size() == 1 ? "plugin " + paths.front() : "the plugins";
    if (outcome.timed_out) {
        throw usage_error(fmt::format("{}: still loading after {:.1f} s; it hangs", which,
                                      std::chrono::duration<double>(load_limit).count()));
    }
    if (outcome.signal != 0) {
        throw usage_error(fmt::format("{}: crashed while loading ({})", which, signal_name(outcome.signal)));
    }
    // The cell program refuses a plugin it cannot load (not a library, no entry point, another
    // build's tag) with exit code 2 and one line of its own; any other ending is the plugin's doing.
    if (outcome.exit_code == exit_codes::cell::usage && outcome.err.starts_with("allocproof-cell: ")) {
        throw usage_error(first_line(outcome.err));
    }
    const std::string printed = without_trailing_space(outcome.out);
    const std::string complained = without_trailing_space(outcome.err);
    const std::string said = printed.empty() && complained.empty() ? std::string(", printing nothing")
                             : printed.empty() ? ", after writing " + quoted(complained) + " to standard error"
                                               : ", after printing " + quoted(printed);
    if (outcome.exit_code != 0) {
        throw usage_error(fmt::format("{}: exited with code {} while loading{}", which, outcome.exit_code, said));
    }
    // The description is the cell program's last line, an object whose keys come sorted (nlohmann's
    // dump): whatever comes before it, on its line or the lines above, the plugin printed.
    const auto last_line = printed.rfind('\n');
    const auto description_start =
        printed.find("{\"abi_tag\"", last_line == std::string::npos ? 0 : last_line + 1);
    json described = description_start == std::string::npos
                         ? json(nullptr)
                         : json::parse(printed.substr(description_start), nullptr, false);
    if (!described.is_object()) {
        throw usage_error(fmt::format("{}: exited with code 0 while loading, before the cell program could describe "
                                      "it{}", which, said));
    }
    if (const std::string before = without_trailing_space(printed.substr(0, description_start)); !before.empty()) {
        throw usage_error(fmt::format("{}: printed {} while loading; a plugin must not write to standard output, "
                                      "where each cell's record goes", which, quoted(before)));
    }
    if (described.value("schema", "") != "allocproof-plugins/1") {
        throw usage_error(fmt::format("{}: the cell program described it in a form this driver does not read", which));
    }
    return described;
}

}  // namespace

bool valid_strategy_name(std::string_view name) {
    return !name.empty() && name.size() <= 64 && std::ranges::all_of(name, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
               c == ':' || c == '-';
    });
}

json register_plugins(std::vector<std::string>& paths, std::chrono::milliseconds load_limit) {
    json registered = json::array();
    if (paths.empty()) return registered;
    for (auto& path : paths) {
        path = std::filesystem::absolute(path).lexically_normal().string();
        std::error_code error;
        if (std::filesystem::is_directory(path, error)) {
            throw usage_error(fmt::format("plugin {}: is a directory, not a plugin library", path));
        }
    }
    const json described = describe(paths, load_limit);
    registry& reg = registry::instance();
    try {
        for (const auto& plugin : described.at("plugins")) {
            json names = json::array();
            for (const auto& traits : plugin.at("strategies")) {
                const std::string name = traits.at("name").get<std::string>();
                if (!valid_strategy_name(name)) {
                    throw usage_error(fmt::format("plugin {}: strategy name {} is not 1-64 characters of A-Z, a-z, "
                                                  "0-9, '_', '.', ':', '-'",
                                                  plugin.at("path").get<std::string>(), quoted(name)));
                }
                strategy_traits s = traits_from_json(traits, plugin_strings());
                reg.add_strategy(s, nullptr);
                names.push_back(s.name);
            }
            for (const auto& cell : plugin.at("cells")) {
                const workload_traits* workload = reg.find_workload(cell.at("workload").get<std::string>());
                const strategy_traits* strategy = reg.find_strategy(cell.at("strategy").get<std::string>());
                if (workload == nullptr || strategy == nullptr) {
                    throw usage_error(fmt::format("plugin {}: a cell of workload '{}', which this build does not have",
                                                  plugin.at("path").get<std::string>(),
                                                  cell.at("workload").get<std::string>()));
                }
                reg.add_cell(workload->name, strategy->name, nullptr);
            }
            registered.push_back({{"path", plugin.at("path")},
                                  {"name", plugin.at("name")},
                                  {"abi_tag", plugin.at("abi_tag")},
                                  {"strategies", names}});
        }
    } catch (const json::exception& error) {
        throw usage_error(fmt::format("the plugins' description is malformed ({})", error.what()));
    }
    return registered;
}

}  // namespace allocproof::driver
