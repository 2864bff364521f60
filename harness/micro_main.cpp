// allocproof-micro-<allocator>: the micro suite (harness/micro_patterns.hpp) of every registered
// strategy, on the global allocator this program is linked with. Google Benchmark's own flags
// apply (--benchmark_filter, --benchmark_out=FILE --benchmark_out_format=json, ...); its JSON
// output is kept as is, so its compare tool works on two runs.
#include "allocproof/exit_codes.hpp"
#include "harness/allocator_identity.hpp"
#include "harness/micro_registry.hpp"

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

int main(int argc, char** argv) {
    using namespace allocproof;
    // As in the cell programs: measure the library as a threaded process runs it.
    std::thread([] {}).join();

    const allocator_identity identity = identify_global_allocator();
    if (!identity.serves_malloc) {
        std::cerr << "allocproof-micro: " << identity.name << " does not serve malloc here ("
                  << identity.malloc_provider << ")\n";
        return exit_codes::micro::allocator_mismatch;
    }
    benchmark::AddCustomContext("allocator", identity.name);
    benchmark::AddCustomContext("allocator_version", identity.version);
    benchmark::AddCustomContext("malloc_provider", identity.malloc_provider);

    // ALLOCPROOF_MICRO_ITERATIONS fixes the iteration count: counting instructions under
    // callgrind at two counts and taking the difference cancels every fixed cost.
    const char* fixed_iterations = std::getenv("ALLOCPROOF_MICRO_ITERATIONS");
    for (const micro_entry& entry : micro_registry::instance().entries()) {
        for (std::size_t k = 0; k < std::size(entry.arguments); ++k) {
            const std::size_t argument = entry.arguments[k];
            if (k > 0 && argument == entry.arguments[0]) continue;  // one argument only
            std::string name =
                std::string(entry.pattern) + "/" + std::string(entry.strategy) + "/" + std::to_string(argument);
            // items_per_iteration: what `allocproof count-micro` divides a count by, exactly.
            auto* b = benchmark::RegisterBenchmark(name.c_str(), [run = entry.run, argument](benchmark::State& s) {
                run(s, argument);
                if (s.iterations() > 0) {
                    s.counters["items_per_iteration"] =
                        static_cast<double>(s.items_processed()) / static_cast<double>(s.iterations());
                }
            });
            if (entry.manual_time) b->UseManualTime();
            if (fixed_iterations != nullptr) b->Iterations(std::atoll(fixed_iterations));
        }
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return exit_codes::micro::usage;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
