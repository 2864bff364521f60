// The plugin of faulty strategies is made of several files, one per kind of fault (the crude
// faults in tests/plugins/faulty_strategies.cpp, the cheats beside it in this folder). Each file
// adds its registration function to this list with `faulty::registers`; the plugin's entry point
// calls them all, once the loader has checked the plugin's tag. Only functions are listed when
// the library is loaded: nothing is registered with allocproof before the entry point is called.
#pragma once

#include <vector>

namespace faulty {

using registration = void (*)();

inline std::vector<registration>& registrations() {
    static std::vector<registration> all;
    return all;
}

struct registers {
    explicit registers(registration add) { registrations().push_back(add); }
};

}  // namespace faulty
