#include "harness/driver/allocator_catalogue.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace allocproof::driver {

extern const char* const allocator_catalogue_json;  // generated from catalogue/allocators.json

const std::vector<global_allocator>& global_allocators() {
    static const std::vector<global_allocator> catalogue = [] {
        std::vector<global_allocator> out;
        // Part of the build: CMake has read the same file, so a malformed one never gets here.
        // Named: a range-for over a member of a temporary would read it after it is destroyed.
        const auto parsed = nlohmann::json::parse(allocator_catalogue_json);
        for (const auto& entry : parsed.at("allocators")) {
            out.push_back({entry.at("name"), entry.at("link"), entry.at("shared_object"), entry.at("loaded_as"),
                           entry.value("sources_under", ""), entry.value("baseline", false)});
        }
        return out;
    }();
    return catalogue;
}

const std::vector<std::string>& global_allocator_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out;
        for (const auto& allocator : global_allocators()) out.push_back(allocator.name);
        return out;
    }();
    return names;
}

std::string allocators_option_help() {
    return fmt::format("global allocators ({}) or globs, comma-separated", fmt::join(global_allocator_names(), ", "));
}

const global_allocator* find_global_allocator(std::string_view name) {
    const auto& all = global_allocators();
    auto found = std::ranges::find(all, name, &global_allocator::name);
    return found == all.end() ? nullptr : &*found;
}

const std::string& baseline_allocator() {
    static const std::string name = [] {
        const auto& all = global_allocators();
        auto found = std::ranges::find_if(all, &global_allocator::baseline);
        // CMake checks that exactly one entry is the baseline (cmake/Catalogues.cmake).
        return found == all.end() ? std::string() : found->name;
    }();
    return name;
}

std::size_t allocator_rank(std::string_view name) {
    const auto& names = global_allocator_names();
    return static_cast<std::size_t>(std::ranges::find(names, name) - names.begin());
}

}  // namespace allocproof::driver
