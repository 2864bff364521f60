// A plugin whose static initialisation crashes: loading it must cost a clear error, not the driver.
#include "allocproof/plugin.hpp"

#include <csignal>

namespace {
const bool crashed = (std::raise(SIGSEGV), true);
void register_nothing() {}
}  // namespace

ALLOCPROOF_PLUGIN_REGISTERING("crashes on load", register_nothing)
