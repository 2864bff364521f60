#include "allocproof/thread_probes.hpp"

#include <fcntl.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>

// Debian's valgrind package ships the client-request header; without it the instruction pass
// finds nothing collected and says so.
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define ALLOCPROOF_HAVE_CALLGRIND_H 1
#else
#define ALLOCPROOF_HAVE_CALLGRIND_H 0
#endif

namespace allocproof {

std::uint64_t thread_cpu_ns() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t process_cpu_ns() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t resident_bytes() {
    // statm: size resident shared text lib data dt, in pages. Plain read(): no stdio buffer
    // allocation, so reading it does not move the counters it is read beside.
    int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    char text[128] = {};
    ssize_t got = ::read(fd, text, sizeof text - 1);
    ::close(fd);
    if (got <= 0) {
        return 0;
    }
    unsigned long long size = 0, resident = 0;
    if (std::sscanf(text, "%llu %llu", &size, &resident) != 2) {
        return 0;
    }
    return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

std::uint64_t peak_resident_bytes() {
    // VmHWM, not getrusage's ru_maxrss: at exec Linux keeps the larger of the parent's and the
    // child's high-water marks in ru_maxrss, so a cell started by a driver holding 500 MB of
    // results would report the driver's peak. VmHWM belongs to this process's own address space.
    int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char text[8192] = {};
        ssize_t got = ::read(fd, text, sizeof text - 1);
        ::close(fd);
        if (got > 0) {
            if (const char* line = std::strstr(text, "VmHWM:")) {
                unsigned long long kib = 0;
                if (std::sscanf(line + 6, "%llu", &kib) == 1) {
                    return static_cast<std::uint64_t>(kib) * 1024;
                }
            }
        }
    }
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;  // ru_maxrss is in KiB
}

bool reset_peak_resident() {
    int fd = ::open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    const bool written = ::write(fd, "5", 1) == 1;
    ::close(fd);
    return written;
}

namespace {

int open_counter(std::uint64_t config) {
    perf_event_attr attr{};
    attr.type = PERF_TYPE_HARDWARE;
    attr.size = sizeof attr;
    attr.config = config;
    attr.disabled = 1;
    attr.exclude_kernel = 1;  // allowed at perf_event_paranoid 2, the Debian default
    attr.exclude_hv = 1;
    long fd = syscall(SYS_perf_event_open, &attr, 0 /*this thread*/, -1 /*any cpu*/, -1, 0);
    return static_cast<int>(fd);
}

void callgrind_toggle_collect() {
#if ALLOCPROOF_HAVE_CALLGRIND_H
    CALLGRIND_TOGGLE_COLLECT;
#endif
}

std::optional<std::uint64_t> read_counter(int fd) {
    if (fd < 0) {
        return std::nullopt;
    }
    std::uint64_t value = 0;
    if (::read(fd, &value, sizeof value) != static_cast<ssize_t>(sizeof value)) {
        return std::nullopt;
    }
    return value;
}

}  // namespace

bool under_valgrind() {
#if ALLOCPROOF_HAVE_CALLGRIND_H
    return RUNNING_ON_VALGRIND != 0;
#else
    return false;
#endif
}

// Under valgrind the hardware would count valgrind's own work: callgrind counts instead, what
// start() and stop() let it collect (the instruction pass runs cells with --collect-atstart=no).
thread_perf_counters::thread_perf_counters()
    : instructions_fd_(under_valgrind() ? -1 : open_counter(PERF_COUNT_HW_INSTRUCTIONS)),
      cycles_fd_(under_valgrind() ? -1 : open_counter(PERF_COUNT_HW_CPU_CYCLES)) {}

thread_perf_counters::~thread_perf_counters() {
    if (instructions_fd_ >= 0) ::close(instructions_fd_);
    if (cycles_fd_ >= 0) ::close(cycles_fd_);
}

void thread_perf_counters::start() {
    if (under_valgrind()) callgrind_toggle_collect();
    for (int fd : {instructions_fd_, cycles_fd_}) {
        if (fd >= 0) {
            ioctl(fd, PERF_EVENT_IOC_RESET, 0);
            ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
        }
    }
}

void thread_perf_counters::stop() {
    for (int fd : {instructions_fd_, cycles_fd_}) {
        if (fd >= 0) {
            ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
        }
    }
    if (under_valgrind()) callgrind_toggle_collect();
}

std::optional<std::uint64_t> thread_perf_counters::instructions() const { return read_counter(instructions_fd_); }
std::optional<std::uint64_t> thread_perf_counters::cycles() const { return read_counter(cycles_fd_); }

}  // namespace allocproof
