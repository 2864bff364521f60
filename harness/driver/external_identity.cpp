#include "harness/driver/external_identity.hpp"

#include "harness/driver/allocator_catalogue.hpp"
#include "harness/driver/external_run.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>
#include <set>

namespace allocproof::driver {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

bool same_file(const std::string& a, const std::string& b) {
    std::error_code error;
    return fs::equivalent(a, b, error);
}

// The targets of the bindings of `malloc` in the dynamic linker's LD_DEBUG=bindings files.
std::set<std::string> malloc_targets(const fs::path& folder) {
    std::set<std::string> targets;
    for (const auto& entry : fs::directory_iterator(folder)) {
        std::ifstream in(entry.path());
        std::string line;
        while (std::getline(in, line)) {
            if (line.find("normal symbol `malloc'") == std::string::npos) continue;
            auto to = line.find(" to ");
            auto bracket = line.find(" [", to == std::string::npos ? 0 : to + 4);
            if (to != std::string::npos && bracket != std::string::npos) {
                targets.insert(line.substr(to + 4, bracket - to - 4));
            }
        }
    }
    return targets;
}

// The shared objects the program's `malloc` references bind to, as the dynamic linker reports
// them (LD_DEBUG=bindings) for a harmless run of the same program with the same preload.
// Cached: it depends on the program and the preload only.
json binding_probe(const external_spec& spec, const std::string& program, const std::string& preload,
                   const std::atomic<bool>& stop) {
    static std::mutex lock;
    static std::map<std::string, json> cache;
    std::lock_guard guard(lock);
    const std::string key = program + "|" + preload + "|" + fmt::format("{}", fmt::join(spec.probe, " "));
    if (auto found = cache.find(key); found != cache.end()) return found->second;

    scratch_folder folder;
    std::vector<std::string> argv = spec.probe;
    argv.insert(argv.begin(), program);
    child_request request = program_request(argv, preload, folder.path(), "probe");
    request.stdout_path = request.stderr_path = "/dev/null";
    request.set_environment.push_back("LD_DEBUG=bindings");
    request.set_environment.push_back("LD_DEBUG_OUTPUT=" + (folder.path() / "ld").string());
    const child_outcome end = run_child(request, std::chrono::seconds(30), stop);
    json bound = json::array();
    if (end.started) {
        for (const auto& target : malloc_targets(folder.path())) bound.push_back(target);
    }
    json result = {{"command", fmt::format("{} {}", program, fmt::join(spec.probe, " "))},
                   {"malloc_bound_to", bound},
                   {"error", end.started ? json(nullptr) : json(end.err)}};
    cache[key] = result;
    return result;
}

// Whether every binding of malloc goes to the allocator asked for.
bool binds_to(const json& bound, const std::string& preload) {
    if (bound.empty()) return false;
    return std::ranges::all_of(bound, [&](const json& target) {
        const auto path = target.get<std::string>();
        return preload.empty() ? file_name(path).starts_with("libc.so") : same_file(path, preload);
    });
}

}  // namespace

std::string preload_library(const std::string& allocator) {
    const global_allocator* library = find_global_allocator(allocator);
    if (library == nullptr) {
        throw std::runtime_error("no shared library is known for allocator " + allocator +
                                 " (catalogue/allocators.json)");
    }
    if (library->link.empty()) return {};  // glibc's malloc: every program has it, nothing to preload
#if defined(__x86_64__)
    const std::string triplet = "x86_64-linux-gnu";
#elif defined(__aarch64__)
    const std::string triplet = "aarch64-linux-gnu";
#else
    const std::string triplet = "";
#endif
    std::vector<std::string> folders = {"/usr/lib/" + triplet, "/lib/" + triplet, "/usr/lib64", "/usr/lib",
                                        "/usr/local/lib"};
    for (const auto& folder : folders) {
        fs::path candidate = fs::path(folder) / library->shared_object;
        std::error_code error;
        if (fs::is_regular_file(candidate, error)) return fs::canonical(candidate, error).string();
    }
    throw std::runtime_error(fmt::format("{} is not installed (looked in {}); scripts/install-deps.sh installs it",
                                         library->shared_object, fmt::join(folders, ", ")));
}

json identity_before_run(const external_spec& spec, const std::string& program, const std::string& allocator,
                         const std::string& preload, const std::atomic<bool>& stop, std::string& not_in_effect) {
    json identity = {{"name", allocator},        {"preload", preload.empty() ? json(nullptr) : json(preload)},
                     {"binding_probe", nullptr}, {"mapped_libraries", nullptr},
                     {"serves_malloc", nullptr}, {"evidence", ""}};
    if (spec.probe.empty()) return identity;
    json probe = binding_probe(spec, program, preload, stop);
    identity["binding_probe"] = probe;
    const json& bound = probe["malloc_bound_to"];
    if (bound.empty()) return identity;
    const bool in_effect = binds_to(bound, preload);
    const std::string targets = fmt::format("{}", fmt::join(bound.get<std::vector<std::string>>(), ", "));
    identity["serves_malloc"] = in_effect;
    identity["evidence"] =
        fmt::format("LD_DEBUG=bindings of '{}': malloc binds to {}", probe["command"].get<std::string>(), targets);
    if (!in_effect) {
        not_in_effect =
            fmt::format("{} is not in effect for {}: malloc binds to {} ({})", allocator, file_name(program), targets,
                        preload.empty() ? "the program links its own allocator" : "the preload does not win");
    }
    return identity;
}

std::string confirm_identity(json& identity, const std::string& preload,
                             const std::optional<std::vector<std::string>>& mapped) {
    if (mapped) identity["mapped_libraries"] = *mapped;
    if (!preload.empty() && mapped &&
        std::ranges::none_of(*mapped, [&](const std::string& path) { return same_file(path, preload); })) {
        identity["serves_malloc"] = false;
        identity["evidence"] = fmt::format("{} is not mapped into the process", preload);
        return fmt::format("allocator mismatch: {} was preloaded but is not mapped", preload);
    }
    if (identity["serves_malloc"].is_null()) {
        identity["evidence"] = mapped
                                   ? fmt::format("not verified: no binding probe; mapped: {}", fmt::join(*mapped, ", "))
                                   : std::string(
                                         "not verified: no binding probe, and the program ended before "
                                         "its maps could be read");
    } else if (mapped) {
        identity["evidence"] = identity["evidence"].get<std::string>() +
                               fmt::format("; mapped in the measured process: {}", fmt::join(*mapped, ", "));
    }
    return {};
}

std::optional<std::vector<std::string>> mapped_libraries(pid_t pid) {
    std::ifstream in(fmt::format("/proc/{}/maps", pid));
    if (!in) return std::nullopt;
    std::set<std::string> found;
    bool loaded = false;
    std::string line;
    while (std::getline(in, line)) {
        auto slash = line.find('/');
        if (slash == std::string::npos) continue;
        std::string path = line.substr(slash);
        std::string name = file_name(path);
        if (name.starts_with("libc.so")) loaded = true;
        for (const auto& allocator : global_allocators()) {
            if (name.find(allocator.loaded_as) != std::string::npos) found.insert(path);
        }
    }
    if (!loaded) return std::nullopt;  // the dynamic linker has not finished: look again later
    return std::vector<std::string>(found.begin(), found.end());
}

}  // namespace allocproof::driver
