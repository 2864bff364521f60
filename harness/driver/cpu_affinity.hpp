// Which CPUs the driver and its cell programs run on (sched_setaffinity).
#pragma once

#include <string>
#include <vector>

namespace allocproof::driver {

// The CPUs the calling thread may run on, in increasing order; empty when they cannot be read.
// (cpu_set_t: CPUs numbered 1024 and above are not seen.)
std::vector<int> allowed_cpus();

// Restricts the calling thread to `cpus`: "" on success, else why not (sched_setaffinity's error).
std::string set_allowed_cpus(const std::vector<int>& cpus);

// Runs the calling thread on `cpus` (nothing changes when empty) until the end of the scope, then
// on the CPUs it had before. A process starts with its parent's CPUs, and posix_spawn has no
// attribute for them: the driver hands a cell program its CPUs by taking them itself around the
// spawn. The driver runs cells from one thread, so nothing else runs on the borrowed set meanwhile.
class scoped_cpus {
public:
    explicit scoped_cpus(const std::vector<int>& cpus);
    ~scoped_cpus();
    scoped_cpus(const scoped_cpus&) = delete;
    scoped_cpus& operator=(const scoped_cpus&) = delete;
    const std::string& error() const { return error_; }

private:
    std::vector<int> before_;
    std::string error_;
    bool changed_ = false;
};

// Where a run puts its cells. A 1-thread cell's time per operation moves with the CPU it lands on
// and with whatever else runs there: unpinned, node_churn/std/glibc measured a CV of 10% (two
// modes, as the scheduler moved it), pinned 3.3%; CPU 0 and CPU 1 of the same VM gave medians of
// 150 and 190 ns/op. So every 1-thread cell of a run gets the same CPU, the last one the driver
// may use, and the driver keeps off it. Cells of more threads get every CPU the driver may use.
struct cpu_plan {
    bool enabled = true;           // --no-pin turns it off
    std::vector<int> allowed;      // the driver's CPUs when the run started
    int cell_cpu = -1;             // the CPU of 1-thread cells; -1: none (off, or impossible)
    std::vector<int> driver_cpus;  // the driver's own CPUs while cells run
    std::string note;              // why 1-thread cells are not pinned although pinning is on

    // The CPUs a cell of `threads` threads runs on.
    std::vector<int> cpus_for(unsigned threads) const;
};

// Plans the CPUs of a run from the driver's own set; pins nothing yet.
cpu_plan plan_cpus(bool enabled);

}  // namespace allocproof::driver
