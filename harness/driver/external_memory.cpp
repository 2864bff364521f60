#include "harness/driver/external_memory.hpp"

#include <fmt/format.h>

#include <sys/resource.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>

namespace allocproof::driver {

resident_reading read_resident(pid_t pid) {
    std::ifstream in(fmt::format("/proc/{}/status", pid));
    std::string line;
    resident_reading reading;
    while (std::getline(in, line)) {
        if (line.rfind("VmHWM:", 0) == 0) reading.high_water = std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
        if (line.rfind("VmRSS:", 0) == 0) {
            reading.now = std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
            break;  // VmRSS follows VmHWM
        }
    }
    return reading;
}

std::uint64_t own_peak_rss() {
    rusage self{};
    ::getrusage(RUSAGE_SELF, &self);
    return static_cast<std::uint64_t>(self.ru_maxrss) * 1024;
}

void resident_samples::add(clock::time_point when, const resident_reading& reading) {
    if (reading.now == 0) return;  // gone, or not yet readable
    peak_ = std::max(peak_, reading.high_water);
    samples_.emplace_back(when, reading.now);
}

std::optional<std::uint64_t> resident_samples::steady(clock::time_point from, clock::time_point to) const {
    const auto middle = from + (to - from) / 2;
    std::vector<std::uint64_t> held;
    for (const auto& [when, bytes] : samples_) {
        if (when >= middle && when <= to) held.push_back(bytes);
    }
    if (held.empty()) return std::nullopt;
    auto mid = held.begin() + static_cast<std::ptrdiff_t>(held.size() / 2);
    std::nth_element(held.begin(), mid, held.end());
    return *mid;
}

}  // namespace allocproof::driver
