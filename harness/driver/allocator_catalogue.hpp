// The global allocators (catalogue/allocators.json, compiled in): their names in the order every
// table shows them, and the shared object a real program preloads for each. The build, the
// driver, the report and the micro suite all read that one file.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace allocproof::driver {

struct global_allocator {
    std::string name;
    std::string link;           // the library a cell program links ("" for glibc: none)
    std::string shared_object;  // its file name, e.g. libjemalloc.so.2
    std::string loaded_as;      // what a loaded library's file name holds when it is this one
    std::string sources_under;  // "": all of the library is the allocator; else its sources' folder
    bool baseline = false;      // real programs' figures are read as ratios to this allocator
};

// In the catalogue's order.
const std::vector<global_allocator>& global_allocators();
const std::vector<std::string>& global_allocator_names();
// The help of an --allocators option: the catalogue's names, and that globs and lists are taken.
std::string allocators_option_help();
// nullptr for a name the catalogue does not list.
const global_allocator* find_global_allocator(std::string_view name);
// The allocator every real program's figures are read against (glibc's malloc, which a program
// gets with no other).
const std::string& baseline_allocator();
// Where `name` stands in the catalogue's order; past the end for an unknown name.
std::size_t allocator_rank(std::string_view name);

}  // namespace allocproof::driver
