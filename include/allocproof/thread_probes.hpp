// Per-thread and per-process probes: CPU time, hardware counters, resident memory.
#pragma once

#include <cstdint>
#include <optional>

namespace allocproof {

std::uint64_t thread_cpu_ns();
std::uint64_t process_cpu_ns();       // every thread of the process, those that ended included
std::uint64_t resident_bytes();       // now, from /proc/self/statm
std::uint64_t peak_resident_bytes();  // high-water mark of this process (VmHWM)
// Sets the high-water mark to the resident memory of now (Linux's clear_refs "5"), so that a later
// peak_resident_bytes() covers only what came after. False where the kernel refuses.
bool reset_peak_resident();

// Whether this process runs under valgrind (the instruction pass runs cells under callgrind).
bool under_valgrind();

// User-space instructions and cycles of the calling thread through perf_event_open. Virtual
// machines often expose no hardware counters; then both stay empty and the results say null.
class thread_perf_counters {
public:
    thread_perf_counters();
    ~thread_perf_counters();
    thread_perf_counters(const thread_perf_counters&) = delete;
    thread_perf_counters& operator=(const thread_perf_counters&) = delete;

    void start();
    void stop();
    std::optional<std::uint64_t> instructions() const;
    std::optional<std::uint64_t> cycles() const;

private:
    int instructions_fd_ = -1;
    int cycles_fd_ = -1;
};

}  // namespace allocproof
