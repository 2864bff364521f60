#include "harness/driver/cpu_affinity.hpp"

#include <sched.h>

#include <cerrno>
#include <cstring>

namespace allocproof::driver {

std::vector<int> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    }
    return cpus;
}

std::string set_allowed_cpus(const std::vector<int>& cpus) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int cpu : cpus) {
        if (cpu < 0 || cpu >= CPU_SETSIZE) return "CPU " + std::to_string(cpu) + " is out of range";
        CPU_SET(cpu, &set);
    }
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        return std::string("sched_setaffinity: ") + std::strerror(errno);
    }
    return {};
}

scoped_cpus::scoped_cpus(const std::vector<int>& cpus) {
    if (cpus.empty()) return;
    before_ = allowed_cpus();
    if (before_ == cpus) return;
    error_ = before_.empty() ? std::string("sched_getaffinity: ") + std::strerror(errno) : set_allowed_cpus(cpus);
    changed_ = error_.empty();
}

scoped_cpus::~scoped_cpus() {
    if (changed_) set_allowed_cpus(before_);
}

std::vector<int> cpu_plan::cpus_for(unsigned threads) const {
    return threads == 1 && cell_cpu >= 0 ? std::vector<int>{cell_cpu} : allowed;
}

cpu_plan plan_cpus(bool enabled) {
    cpu_plan plan;
    plan.enabled = enabled;
    plan.allowed = allowed_cpus();
    if (!enabled) return plan;
    if (plan.allowed.size() < 2) {
        plan.note = plan.allowed.empty() ? "the driver cannot read its CPUs (sched_getaffinity failed)"
                                         : "the driver may use only 1 CPU: no CPU to keep the cell to itself";
        return plan;
    }
    plan.cell_cpu = plan.allowed.back();
    plan.driver_cpus.assign(plan.allowed.begin(), plan.allowed.end() - 1);
    return plan;
}

}  // namespace allocproof::driver
