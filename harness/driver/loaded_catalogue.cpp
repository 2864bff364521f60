// This invocation's catalogue (matrix_catalogue.hpp): asked of the build's first cell program, once.
// Apart from matrix_catalogue.cpp so that a test can read descriptions without the rest of the driver.
#include "harness/driver/exit_codes.hpp"
#include "harness/driver/matrix_catalogue.hpp"
#include "harness/driver/plugins.hpp"
#include "harness/driver/run.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <memory>
#include <stdexcept>

namespace allocproof::driver {

namespace {

std::unique_ptr<const matrix_catalogue>& loaded() {
    static std::unique_ptr<const matrix_catalogue> the_catalogue;
    return the_catalogue;
}

}  // namespace

const matrix_catalogue& load_catalogue(std::vector<std::string>& plugins, std::chrono::milliseconds limit) {
    if (loaded()) throw std::logic_error("the build's catalogue is loaded once per invocation");
    check_plugin_paths(plugins);
    const auto allocators = available_allocators();
    if (allocators.empty()) {
        throw usage_error("no cell program (allocproof-cell-<allocator>) beside the driver: this build is incomplete");
    }
    auto described =
        std::make_unique<const matrix_catalogue>(describe_build(cell_program(allocators.front()), plugins, limit));
    if (!described->conflicts().empty()) {
        throw usage_error(fmt::format("registered twice: {}", fmt::join(described->conflicts(), ", ")));
    }
    check_plugin_strategies(*described);
    loaded() = std::move(described);
    return *loaded();
}

const matrix_catalogue& catalogue() {
    if (!loaded()) throw std::logic_error("the build's catalogue is read before load_catalogue");
    return *loaded();
}

}  // namespace allocproof::driver
