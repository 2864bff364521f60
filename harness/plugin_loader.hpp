// Loading strategy plugins (allocproof/plugin.hpp) into a cell program.
//
// Only cell programs load plugins: the driver learns what a plugin holds by asking a cell program
// (`--plugin PATH --describe`) in a child process, so a plugin that crashes or hangs while
// loading costs a clear error, never the driver or a result already measured.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace allocproof {

// A plugin that cannot be loaded: the message names the file and says what to do.
struct plugin_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct loaded_plugin {
    std::string path;
    std::string name;
    std::string abi_tag;
    std::vector<std::string> strategies;  // those the plugin registered, by name
};

// Checks that `path` is a shared library with the entry point, that its tag is this build's,
// then registers its strategies and their cells. Never unloaded: the registry points into it.
// Throws plugin_error.
loaded_plugin load_plugin(const std::filesystem::path& path);

// This build's tag, for messages and the results file.
const char* host_plugin_abi_tag();

}  // namespace allocproof
