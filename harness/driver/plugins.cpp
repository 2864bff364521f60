#include "harness/driver/plugins.hpp"

#include "harness/driver/exit_codes.hpp"
#include "harness/driver/matrix_catalogue.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

namespace allocproof::driver {

bool valid_strategy_name(std::string_view name) {
    return !name.empty() && name.size() <= 64 && std::ranges::all_of(name, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
               c == ':' || c == '-';
    });
}

void check_plugin_paths(std::vector<std::string>& paths) {
    for (auto& path : paths) {
        path = std::filesystem::absolute(path).lexically_normal().string();
        std::error_code error;
        if (std::filesystem::is_directory(path, error)) {
            throw usage_error(fmt::format("plugin {}: is a directory, not a plugin library", path));
        }
    }
}

void check_plugin_strategies(const matrix_catalogue& catalogue) {
    for (const auto& plugin : catalogue.plugins()) {
        for (const auto& name : plugin.at("strategies")) {
            if (!valid_strategy_name(name.get<std::string>())) {
                // Quoted and escaped: the name may hold a line break, and this is one line.
                throw usage_error(
                    fmt::format("plugin {}: strategy name {} is not 1-64 characters of A-Z, a-z, 0-9, "
                                "'_', '.', ':', '-'",
                                plugin.at("path").get<std::string>(),
                                name.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
            }
        }
    }
}

}  // namespace allocproof::driver
