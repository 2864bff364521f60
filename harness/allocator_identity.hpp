// Which global allocator serves this process — asked of the allocator itself, not assumed.
//
// Each cell program is linked with one allocator and one of harness/allocators/<name>.cpp, which
// asks that allocator for its version through its own API and checks that it really serves
// malloc (a block from malloc is owned by it). The driver compares the answer with the label it
// asked for and fails the cell on a mismatch.
#pragma once

#include <string>

namespace allocproof {

struct allocator_identity {
    std::string name;             // glibc, jemalloc, mimalloc, tcmalloc
    std::string version;          // as the allocator reports it
    std::string malloc_provider;  // the shared object that defines the malloc this process calls
    bool serves_malloc = false;   // the allocator's own ownership check passed
    std::string evidence;         // how serves_malloc was decided
};

allocator_identity identify_global_allocator();  // one definition per allocator file

// The file of the shared object whose malloc this process resolves to (dladdr).
std::string malloc_provider();

// True when built with a sanitizer that replaces malloc (ASan, TSan): such builds are for tests,
// and their allocator is the sanitizer's whatever the label says.
bool sanitizer_owns_malloc();

}  // namespace allocproof
