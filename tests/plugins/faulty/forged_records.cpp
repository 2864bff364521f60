// Cheats that print a record of their own in place of the cell's: std's genuine record for the
// same cell (so its digest is right), with one thing forged: the allocator's identity, the wall
// time or the CPU time. At the trigger the cheat runs the cell program again as std, without
// plugins, prints that record altered, and ends the process before the real record is printed.
// The driver must refuse each (harness/driver/results.cpp, implausibility), from what it saw of the
// child itself.
#include "allocproof/plugin.hpp"
#include "tests/plugins/faulty/registrations.hpp"
#include "workloads/node_churn.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern char** environ;

namespace faulty {
namespace {

constexpr std::uint64_t forge_at = 2000;  // allocations into the process: the cell is measuring

std::vector<std::string> own_arguments() {
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    const std::string all{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    std::vector<std::string> args;
    for (std::size_t start = 0; start < all.size();) {
        const auto end = all.find('\0', start);
        args.push_back(all.substr(start, end - start));
        start = end == std::string::npos ? all.size() : end + 1;
    }
    return args;
}

// What this cell program prints for the same cell with std and no plugin: a record the driver
// would accept as it is.
std::string genuine_std_record() {
    const auto args = own_arguments();
    std::vector<std::string> kept;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--plugin") {
            ++i;
            continue;
        }
        kept.push_back(args[i]);
        if (args[i] == "--strategy" && i + 1 < args.size()) {
            kept.emplace_back("std");
            ++i;
        }
    }
    std::vector<char*> argv;
    for (auto& a : kept) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (::pipe(out) != 0) return {};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    pid_t pid = -1;
    const int failed = ::posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    std::string record;
    char buffer[65536];
    for (ssize_t got; failed == 0 && (got = ::read(out[0], buffer, sizeof buffer)) > 0;) {
        record.append(buffer, static_cast<std::size_t>(got));
    }
    ::close(out[0]);
    if (failed == 0) ::waitpid(pid, nullptr, 0);
    return record;
}

// Replaces the value after "key": in a compact JSON line: a number, or a string when `value` is
// quoted.
std::string with_value(std::string record, const std::string& key, const std::string& value) {
    const std::string marker = "\"" + key + "\":";
    const auto start = record.find(marker);
    if (start == std::string::npos) return record;
    const auto value_start = start + marker.size();
    const auto value_end =
        record[value_start] == '"' ? record.find('"', value_start + 1) + 1 : record.find_first_of(",}", value_start);
    return record.replace(value_start, value_end - value_start, value);
}

template <class Forgery>
class forges {
public:
    static constexpr allocproof::strategy_traits traits = {
        .name = Forgery::name, .summary = Forgery::summary, .origin = "tests/plugins/faulty/forged_records.cpp"};
    explicit forges(const allocproof::block_spec&) {}
    void* allocate(std::size_t bytes) {
        static std::atomic<std::uint64_t> allocations{0};
        if (allocations.fetch_add(1, std::memory_order_relaxed) + 1 == forge_at) {
            const std::string forged = Forgery::forge(genuine_std_record());
            std::fwrite(forged.data(), 1, forged.size(), stdout);
            std::fflush(stdout);
            ::_exit(0);
        }
        return ::operator new(bytes);
    }
    void deallocate(void* block, std::size_t bytes) { ::operator delete(block, bytes); }
};

struct identity {
    static constexpr std::string_view name = "forges_identity",
                                      summary = "prints std's record, its allocator 'trust me'";
    static std::string forge(const std::string& record) {
        return with_value(with_value(record, "malloc_provider", "\"trust me\""), "version", "\"trust me\"");
    }
};
// An hour: longer than any cell of the tests runs, from start to exit.
struct wall_time {
    static constexpr std::string_view name = "forges_wall", summary = "prints std's record, its phase an hour long";
    static std::string forge(const std::string& record) { return with_value(record, "wall_ns", "3600000000000"); }
};
struct cpu_time {
    static constexpr std::string_view name = "forges_cpu", summary = "prints std's record, its workers' CPU an hour";
    static std::string forge(const std::string& record) { return with_value(record, "cpu_ns", "3600000000000"); }
};

const registers forged_records{[] {
    allocproof::register_strategy_cells<forges<identity>>(allocproof::type_list<allocproof::workloads::node_churn>{});
    allocproof::register_strategy_cells<forges<wall_time>>(allocproof::type_list<allocproof::workloads::node_churn>{});
    allocproof::register_strategy_cells<forges<cpu_time>>(allocproof::type_list<allocproof::workloads::node_churn>{});
}};

}  // namespace
}  // namespace faulty
