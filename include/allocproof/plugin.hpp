// allocproof — a strategy in a shared library of its own: a plugin.
//
//   #include <allocproof/plugin.hpp>
//   class my_pool { ... a strategy, as described in allocproof/strategy.hpp ... };
//   ALLOCPROOF_PLUGIN("my_plugin", my_pool)
//
// built with the installed CMake package (find_package(allocproof); allocproof_add_plugin(...)),
// and run with `allocproof run --plugin path/to/libmy_plugin.so`. The plugin instantiates the
// workload templates with its strategies itself, exactly as a strategy file in the tree does, so
// a cell of a plugin runs at the speed of a built-in one: only the choice of cell (a function
// pointer) crosses the library boundary.
//
// What a plugin cannot do: replace the global allocator. glibc, jemalloc, mimalloc and tcmalloc
// are chosen per process, by the cell program the driver starts (allocproof-cell-<allocator>);
// a plugin is loaded into each of them and runs on top of whichever serves malloc there.
//
// Compatibility: the plugin and the allocproof that loads it share the registry, the workload
// templates and the cell structures, so they must come from the same headers. The entry point
// returns plugin_abi_tag as compiled into the plugin; the loader compares it with its own and
// refuses a plugin built against other headers, naming both tags.
#pragma once

#include "allocproof/abi.hpp"  // generated: the version and a digest of the headers a plugin compiles
#include "allocproof/strategy_cells.hpp"

#define ALLOCPROOF_PLUGIN_STRINGIFY_(x) #x
#define ALLOCPROOF_PLUGIN_STRINGIFY(x) ALLOCPROOF_PLUGIN_STRINGIFY_(x)

namespace allocproof {

// Everything that must match between host and plugin: the headers (by digest), and the C++
// library they were compiled against (a plugin built on another libstdc++ ABI would disagree on
// the layout of std::string and std::vector in the cell structures).
inline constexpr const char plugin_abi_tag[] =
    "allocproof " ALLOCPROOF_ABI_VERSION "; headers " ALLOCPROOF_ABI_HEADERS_DIGEST
    "; libstdc++ " ALLOCPROOF_PLUGIN_STRINGIFY(__GLIBCXX__) "; cxx11 abi " ALLOCPROOF_PLUGIN_STRINGIFY(
        _GLIBCXX_USE_CXX11_ABI);

inline constexpr const char plugin_entry_symbol[] = "allocproof_plugin_entry_v1";

template <class... S>
void register_each_strategy() {
    (register_strategy_cells<S>(), ...);
}

}  // namespace allocproof

extern "C" {
// Version 1 of what the entry point returns. `abi_tag` is first, and stays first in every later
// version, so that any loader can read it before it trusts anything else.
struct allocproof_plugin_v1 {
    const char* abi_tag;
    const char* name;
    void (*register_strategies)();  // called once, after the tag was checked
};
}

// A plugin whose strategies each make cells with every workload.
#define ALLOCPROOF_PLUGIN(plugin_name, ...) \
    ALLOCPROOF_PLUGIN_REGISTERING(plugin_name, (::allocproof::register_each_strategy<__VA_ARGS__>))

// A plugin with its own registration function, `void f()`, which calls
// allocproof::register_strategy_cells<S>() or register_strategy_cells<S>(type_list<W...>{}) to
// choose the workloads. Nothing is registered when the library is merely loaded: only once the
// loader has checked the tag and called the entry point's register_strategies.
#define ALLOCPROOF_PLUGIN_REGISTERING(plugin_name, register_function)                                            \
    extern "C" __attribute__((visibility("default"))) const allocproof_plugin_v1* allocproof_plugin_entry_v1() { \
        static const allocproof_plugin_v1 plugin{::allocproof::plugin_abi_tag, plugin_name,                      \
                                                 [] { register_function(); }};                                   \
        return &plugin;                                                                                          \
    }
