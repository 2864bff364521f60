#include "harness/driver/plugins.hpp"

#include "allocproof/registry.hpp"
#include "harness/driver/child_process.hpp"
#include "harness/driver/matrix.hpp"
#include "harness/driver/run.hpp"
#include "harness/traits_json.hpp"

#include <fmt/format.h>

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
    if (outcome.exit_code != 0) {
        throw usage_error(outcome.err.empty() ? fmt::format("{}: cannot be loaded (exit code {})", which,
                                                            outcome.exit_code)
                                              : first_line(outcome.err));
    }
    json described = json::parse(outcome.out, nullptr, false);
    if (described.is_discarded() || described.value("schema", "") != "allocproof-plugins/1") {
        throw usage_error(fmt::format("{}: the cell program described it in a form this driver does not read", which));
    }
    return described;
}

}  // namespace

json register_plugins(std::vector<std::string>& paths, std::chrono::milliseconds load_limit) {
    json registered = json::array();
    if (paths.empty()) return registered;
    for (auto& path : paths) path = std::filesystem::absolute(path).lexically_normal().string();
    const json described = describe(paths, load_limit);
    registry& reg = registry::instance();
    try {
        for (const auto& plugin : described.at("plugins")) {
            json names = json::array();
            for (const auto& traits : plugin.at("strategies")) {
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
