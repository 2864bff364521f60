// Which allocator serves a real program's malloc: the library preloaded for it, what the dynamic
// linker binds malloc to (a probe run with LD_DEBUG=bindings), and what the measured process maps.
// A program that links an allocator of its own (redis-server links jemalloc) is not measured
// under another's label.
#pragma once

#include "harness/driver/external.hpp"

#include <nlohmann/json.hpp>

#include <sys/types.h>

#include <atomic>
#include <optional>
#include <string>
#include <vector>

namespace allocproof::driver {

// The shared library a global allocator is preloaded from, or empty for glibc (no preload).
// Throws std::runtime_error naming the places searched when it is not installed.
std::string preload_library(const std::string& allocator);

// Before measuring: the record's allocator_identity (name, preload, binding probe, evidence) for
// `program` of `spec` under `allocator`, preloaded from `preload`. `not_in_effect` says why the
// allocator would not serve malloc (the cell is not applicable), or stays empty.
nlohmann::json identity_before_run(const external_spec& spec, const std::string& program, const std::string& allocator,
                                   const std::string& preload, const std::atomic<bool>& stop,
                                   std::string& not_in_effect);

// After: adds the libraries mapped into the measured process to `identity` as evidence; returns
// a failure when the preloaded library is not among them, or empty.
std::string confirm_identity(nlohmann::json& identity, const std::string& preload,
                             const std::optional<std::vector<std::string>>& mapped);

// The allocator libraries mapped into a running process (and libc, which every process maps);
// nothing until the dynamic linker has loaded libc.
std::optional<std::vector<std::string>> mapped_libraries(pid_t pid);

}  // namespace allocproof::driver
