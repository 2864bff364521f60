// A plugin whose static initialisation never ends: the driver must give up on it with a message.
#include "allocproof/plugin.hpp"

#include <chrono>
#include <thread>

namespace {
const bool never_done = [] {
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    return true;
}();
void register_nothing() {}
}  // namespace

ALLOCPROOF_PLUGIN_REGISTERING("hangs on load", register_nothing)
