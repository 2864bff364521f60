// A plugin built for another allocproof: its tag is not this build's, so the loader must refuse
// it before calling anything else in it.
#include "allocproof/plugin.hpp"

namespace {
void register_nothing() {}
}  // namespace

extern "C" __attribute__((visibility("default"))) const allocproof_plugin_v1* allocproof_plugin_entry_v1() {
    static const allocproof_plugin_v1 plugin{"allocproof 0.0.1; headers 0000000000000000; libstdc++ 0; cxx11 abi 1",
                                             "from another version", &register_nothing};
    return &plugin;
}
