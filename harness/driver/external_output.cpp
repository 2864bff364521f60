#include "harness/driver/external_output.hpp"

#include "allocproof/workload.hpp"
#include "harness/driver/text_template.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <regex>
#include <sstream>
#include <vector>

namespace allocproof::driver {

using json = nlohmann::json;

namespace {

// The lines of `text` that `pattern` matches; the matches point into `lines`, which holds them.
std::vector<std::smatch> matches_of(const std::string& text, const std::string& pattern,
                                    std::vector<std::string>& lines) {
    std::regex regex(pattern);
    std::vector<std::smatch> found;
    std::istringstream in(text);
    std::string line;
    lines.clear();
    while (std::getline(in, line)) lines.push_back(line);
    for (const auto& l : lines) {
        std::smatch m;
        if (std::regex_search(l, m, regex)) found.push_back(m);
    }
    return found;
}

// "readrandom" -> "readrandom", "SET (pipelined)" -> "set_pipelined": a metric's name.
std::string metric_label(const std::string& label) {
    std::string out;
    for (char c : label) {
        if (std::isalnum(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(c));
        else if (!out.empty() && out.back() != '_') out += '_';
    }
    while (!out.empty() && out.back() == '_') out.pop_back();
    return out;
}

// One check on the matches it found; the failure, or empty.
std::string failed_values(const external_check& check, const std::vector<std::smatch>& found, const std::string& where,
                          const std::map<std::string, std::string>& variables) {
    const std::string matches = substitute(check.matches, variables);
    if (!matches.empty() && std::to_string(found.size()) != matches) {
        return fmt::format("check failed: /{}/ matched {} time(s) in {}, expected {}", check.regex, found.size(), where,
                           matches);
    }
    if (found.empty()) return fmt::format("check failed: /{}/ not found in {}", check.regex, where);
    const std::string expected_text = substitute(check.equals.empty() ? check.at_least : check.equals, variables);
    const double expected = std::strtod(expected_text.c_str(), nullptr);
    for (const auto& m : found) {
        const double value = std::strtod(m[1].str().c_str(), nullptr);
        const bool good = check.equals.empty() ? value >= expected : value == expected;
        if (!good) {
            return fmt::format("check failed: /{}/ read {} in {}, expected {}{}", check.regex, m[1].str(), where,
                               check.equals.empty() ? "at least " : "", expected_text);
        }
    }
    return {};
}

}  // namespace

std::string failed_check(const external_spec& spec, const std::string& source, const std::string& text,
                         const std::map<std::string, std::string>& variables) {
    const std::string where = source == "after" ? "the after-command's output" : "the program's output";
    for (const auto& check : spec.checks) {
        if (check.source != source) continue;
        std::vector<std::string> lines;
        const std::string failure = failed_values(check, matches_of(text, check.regex, lines), where, variables);
        if (!failure.empty()) return failure;
    }
    return {};
}

std::string add_throughput(const external_spec& spec, const std::string& output,
                           const std::map<std::string, std::string>& variables, double wall_seconds, json& metrics) {
    if (spec.throughput_regex.empty()) {
        if (!spec.throughput_count.empty() && wall_seconds > 0) {
            metrics["program_throughput"] =
                std::strtod(substitute(spec.throughput_count, variables).c_str(), nullptr) / wall_seconds;
        }
        return {};
    }
    std::vector<std::string> lines;
    double log_sum = 0;
    std::size_t n = 0;
    for (const auto& m : matches_of(output, spec.throughput_regex, lines)) {
        const bool labelled = m.size() > 2;
        const double value = std::strtod(m[labelled ? 2 : 1].str().c_str(), nullptr);
        if (!(value > 0)) continue;
        if (labelled) metrics["throughput_" + metric_label(m[1].str())] = value;
        log_sum += std::log(value);
        ++n;
    }
    if (n == 0) return fmt::format("no throughput figure /{}/ in the output", spec.throughput_regex);
    metrics["program_throughput"] = std::exp(log_sum / static_cast<double>(n));  // geometric mean
    return {};
}

json program_report(const external_spec& spec, const std::string& after_output) {
    json report = json::object();
    for (const auto& [name, regex] : spec.report) {
        std::vector<std::string> lines;
        const auto found = matches_of(after_output, regex, lines);
        report[name] = found.empty() ? json(nullptr) : json(found.front()[1].str());
    }
    return report;
}

std::string digest_of(const std::string& text) {
    std::uint64_t digest = text.size();
    for (std::size_t i = 0; i < text.size(); i += 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, text.data() + i, std::min<std::size_t>(8, text.size() - i));
        digest = digest_fold(digest, word);
    }
    return fmt::format("{:016x}", digest);
}

}  // namespace allocproof::driver
