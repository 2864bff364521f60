// Reading a real program's output: the checks its descriptor asks for, its throughput figures,
// the after-command's report, and the digest of a result that must match across allocators.
#pragma once

#include "harness/driver/external.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <string>

namespace allocproof::driver {

// The descriptor's checks on `source` ("stdout" or "after") applied to `text`, with templates
// filled from `variables`; the first failure, or empty.
std::string failed_check(const external_spec& spec, const std::string& source, const std::string& text,
                         const std::map<std::string, std::string>& variables);

// The program's throughput into `metrics`: program_throughput (the geometric mean of the figures
// the descriptor's regex reads, or its count template over `wall_seconds`) and throughput_<label>
// for labelled figures. A failure when the regex reads no figure, or empty.
std::string add_throughput(const external_spec& spec, const std::string& output,
                           const std::map<std::string, std::string>& variables, double wall_seconds,
                           nlohmann::json& metrics);

// The descriptor's `report`: each name with the first match of its regex in `after_output`, or null.
nlohmann::json program_report(const external_spec& spec, const std::string& after_output);

// A digest of the whole output, as a hexadecimal string.
std::string digest_of(const std::string& text);

}  // namespace allocproof::driver
