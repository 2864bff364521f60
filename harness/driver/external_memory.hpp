// A real program's resident memory, read from /proc while it runs: its peak and its steady state.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace allocproof::driver {

// The process's resident set now (VmRSS) and its high-water mark (VmHWM); zeros once it is gone.
struct resident_reading {
    std::uint64_t now = 0, high_water = 0;
};

// Measurement trap: wait4's ru_maxrss is useless for a small child of a large parent. At exec
// Linux keeps the larger of the old and the new address space's high-water marks, and a child
// spawned from the driver starts from the driver's (some 20 MiB). So the driver samples VmHWM,
// which belongs to the new address space alone, while the program runs (every millisecond, and
// last just before a server is stopped); and when ru_maxrss exceeds the driver's own peak at the
// spawn (own_peak_rss), ru_maxrss is the program's exact peak and wins.
resident_reading read_resident(pid_t pid);

// The driver's own peak resident set (its ru_maxrss), in bytes.
std::uint64_t own_peak_rss();

// The resident set of the measured program over time, sampled every millisecond while it runs.
class resident_samples {
public:
    using clock = std::chrono::steady_clock;

    void add(clock::time_point when, const resident_reading& reading);
    std::uint64_t peak() const { return peak_; }
    std::size_t count() const { return samples_.size(); }
    // The steady state of [from, to]: the median of the samples over its second half. The first
    // half is left out because a program that loads its data grows there; the median, because a
    // moment's peak (a compaction's buffers, a sort) is not what the program holds.
    std::optional<std::uint64_t> steady(clock::time_point from, clock::time_point to) const;

private:
    std::vector<std::pair<clock::time_point, std::uint64_t>> samples_;
    std::uint64_t peak_ = 0;
};

}  // namespace allocproof::driver
