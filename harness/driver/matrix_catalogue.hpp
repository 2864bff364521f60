// What this build can measure, as the driver knows it: the workloads and strategies (traits),
// which of their cells exist, the plugins' strategies, and names registered twice.
//
// The driver runs no cell and links none: it asks one cell program (`--describe`, with the run's
// --plugin options) once per invocation, in a child process, and keeps its answer here. The
// matrix, `list`, the conformance checks and the external workloads' name check read it.
#pragma once

#include "allocproof/strategy.hpp"
#include "allocproof/workload.hpp"
#include "harness/traits_json.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace allocproof::driver {

// The schema of a cell program's --describe output.
inline constexpr std::string_view build_description_schema = "allocproof-build/1";

class matrix_catalogue {
public:
    // Reads a cell program's --describe output. A malformed description is a usage_error of one
    // line saying what is wrong with it.
    static matrix_catalogue from_description(const nlohmann::json& description);

    // In the cell program's order: workloads by name, strategies by name with std first.
    const std::vector<workload_traits>& workloads() const { return workloads_; }
    const std::vector<strategy_traits>& strategies() const { return strategies_; }
    const workload_traits* find_workload(std::string_view name) const;
    const strategy_traits* find_strategy(std::string_view name) const;
    // False for a strategy that declares it cannot serve the workload, and for unknown names.
    bool has_cell(std::string_view workload, std::string_view strategy) const;
    // The strategies with a cell of `workload`, in the order of strategies().
    std::vector<std::string> strategies_serving(std::string_view workload) const;
    // Names the cell program registered twice; a non-empty list makes the driver refuse to run.
    const std::vector<std::string>& conflicts() const { return conflicts_; }
    // Each loaded plugin: path, name, abi_tag and its strategies' names (for results.json).
    const nlohmann::json& plugins() const { return plugins_; }

private:
    traits_text text_;
    std::vector<workload_traits> workloads_;
    std::vector<strategy_traits> strategies_;
    std::set<std::pair<std::string, std::string>, std::less<>> cells_;
    std::vector<std::string> conflicts_;
    nlohmann::json plugins_ = nlohmann::json::array();
};

// Runs `cell_program --describe` with `--plugin` for each of `plugins` and reads its answer.
// Throws usage_error with one line when the program cannot be started, crashes, hangs past
// `limit`, exits non-zero, prints anything but its description, or describes the build in a form
// this driver does not read. With plugins, the line names them: loading them is what failed.
matrix_catalogue describe_build(const std::filesystem::path& cell_program, const std::vector<std::string>& plugins,
                                std::chrono::milliseconds limit);

// Asks the first cell program of this build (available_allocators) for the catalogue, once:
// this invocation's, with `plugins` loaded (see plugins.hpp; made absolute here). Throws
// usage_error as describe_build does, and when names are registered twice.
const matrix_catalogue& load_catalogue(std::vector<std::string>& plugins,
                                       std::chrono::milliseconds limit = std::chrono::seconds(60));
// The catalogue load_catalogue loaded; a logic_error before it.
const matrix_catalogue& catalogue();

}  // namespace allocproof::driver
