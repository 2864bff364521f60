// External workloads as load_external_specs reads them: a descriptor file (the input after its
// first line) and an `--external NAME=COMMAND` value (the first line). A malformed one must be a
// usage_error naming it; an accepted one must be usable by `list` and the planner.
//
// Built with ALLOCPROOF_SOURCE_DIR pointing nowhere (fuzz/CMakeLists.txt), so the repository's
// own descriptors are not read on every input and no fuzzed name collides with them.
#include "fuzz/fuzz_support.hpp"

#include "harness/driver/external.hpp"
#include "harness/driver/matrix.hpp"

using namespace allocproof::driver;
using namespace allocproof::fuzz;

namespace {

void check_specs(const std::vector<std::string>& files, const std::vector<std::string>& commands) {
    std::vector<std::shared_ptr<const external_spec>> specs;
    try {
        specs = load_external_specs(files, commands);
    } catch (const usage_error&) {
        return;
    }
    for (const auto& spec : specs) {
        // The runner indexes these without checking: the parser promised them.
        if (spec->program().empty()) broken("load_external_specs", spec->name + " has no program");
        for (const char* scale : {"default", "quick", "test"}) {
            if (!spec->scales.contains(scale)) broken("load_external_specs", spec->name + " lacks a scale");
        }
        if (spec->threads < 1 || spec->threads > 4096)
            broken("load_external_specs", spec->name + " threads out of range");
    }
    external_list_json(specs);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto field = fields(data, size, 2);
    check_specs({}, {field[0]});
    check_specs({scratch_file("descriptor.json", field[1]).string()}, {});
    return 0;
}
