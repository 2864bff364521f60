#include "harness/plugin_loader.hpp"

#include "allocproof/plugin.hpp"
#include "allocproof/registry.hpp"

#include <fmt/format.h>

#include <dlfcn.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>

namespace allocproof {

namespace {

// The first bytes of an ELF file; anything else is not a shared library, whatever its name says.
bool looks_like_elf(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::array<char, 4> magic{};
    in.read(magic.data(), magic.size());
    return in && std::memcmp(magic.data(),
                             "\x7f"
                             "ELF",
                             4) == 0;
}

std::vector<std::string> strategy_names() {
    std::vector<std::string> names;
    for (const auto& s : registry::instance().strategies()) names.emplace_back(s.name);
    return names;
}

}  // namespace

const char* host_plugin_abi_tag() { return plugin_abi_tag; }

loaded_plugin load_plugin(const std::filesystem::path& path) {
    const std::string shown = path.string();
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error)) {
        throw plugin_error(fmt::format("plugin {}: no such file", shown));
    }
    if (!looks_like_elf(path)) {
        throw plugin_error(fmt::format("plugin {}: not a shared library (no ELF header)", shown));
    }
    // RTLD_NOW: a plugin built against another allocproof fails here, on a missing symbol, with
    // the symbol's name, instead of later in the middle of a cell.
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        throw plugin_error(fmt::format("plugin {}: cannot be loaded: {}", shown, ::dlerror()));
    }
    using entry_function = const allocproof_plugin_v1* (*)();
    auto entry = reinterpret_cast<entry_function>(::dlsym(handle, plugin_entry_symbol));
    if (entry == nullptr) {
        throw plugin_error(
            fmt::format("plugin {}: no entry point {} (a plugin ends with ALLOCPROOF_PLUGIN(...) from "
                        "<allocproof/plugin.hpp>)",
                        shown, plugin_entry_symbol));
    }
    const allocproof_plugin_v1* plugin = entry();
    if (plugin == nullptr || plugin->abi_tag == nullptr) {
        throw plugin_error(fmt::format("plugin {}: its entry point returned no description", shown));
    }
    if (std::strcmp(plugin->abi_tag, plugin_abi_tag) != 0) {
        throw plugin_error(
            fmt::format("plugin {}: built for '{}', but this allocproof is '{}'; rebuild the plugin against this "
                        "installation's headers (find_package(allocproof) from its prefix)",
                        shown, plugin->abi_tag, plugin_abi_tag));
    }
    const auto before = strategy_names();
    const auto conflicts_before = registry::instance().conflicts().size();
    plugin->register_strategies();
    const auto& conflicts = registry::instance().conflicts();
    if (conflicts.size() != conflicts_before) {
        throw plugin_error(
            fmt::format("plugin {}: its {} is already registered (names must be unique)", shown, conflicts.back()));
    }
    loaded_plugin loaded{shown, plugin->name != nullptr ? plugin->name : "", plugin->abi_tag, {}};
    for (auto& name : strategy_names()) {
        if (std::ranges::find(before, name) == before.end()) loaded.strategies.push_back(std::move(name));
    }
    if (loaded.strategies.empty()) {
        throw plugin_error(fmt::format("plugin {}: registered no strategy", shown));
    }
    return loaded;
}

}  // namespace allocproof
