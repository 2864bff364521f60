#include "harness/driver/interval.hpp"

#include "harness/stats.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace allocproof::driver {

using json = nlohmann::json;

namespace {

json answer(const json& request) {
    if (!request.is_object() || !request.contains("terms") || !request["terms"].is_array() ||
        request["terms"].empty()) {
        throw std::invalid_argument("a request needs a non-empty array 'terms'");
    }
    const bool on_logs = request.value("log", false);
    std::vector<std::vector<double>> samples;
    std::vector<double> weights;
    for (const auto& t : request["terms"]) {
        if (!t.is_object() || !t.contains("values") || !t["values"].is_array()) {
            throw std::invalid_argument("every term needs an array 'values'");
        }
        auto& values = samples.emplace_back();
        for (const auto& v : t["values"]) {
            if (!v.is_number()) throw std::invalid_argument("a value is not a number");
            double x = v.get<double>();
            if (!std::isfinite(x)) throw std::invalid_argument("a value is not finite");
            if (on_logs) {
                if (!(x > 0)) throw std::invalid_argument("a value is not positive, so it has no logarithm");
                x = std::log(x);
            }
            values.push_back(x);
        }
        weights.push_back(t.value("weight", 1.0));
    }
    std::vector<stats::term> terms;
    for (std::size_t i = 0; i < samples.size(); ++i) terms.push_back({samples[i], weights[i]});
    json confidences = request.value("confidence", json::array({0.95}));
    if (!confidences.is_array() || confidences.empty()) throw std::invalid_argument("'confidence' must be an array");
    json out = {{"intervals", json::array()}, {"n", json::array()}};
    for (const auto& s : samples) out["n"].push_back(s.size());
    for (const auto& c : confidences) {
        if (!c.is_number() || !(c.get<double>() > 0 && c.get<double>() < 1)) {
            throw std::invalid_argument("a confidence is not between 0 and 1");
        }
        const auto ci = stats::trimmed_contrast(terms, c.get<double>());
        out["estimate"] = ci.estimate;
        out["std_error"] = ci.std_error;
        out["df"] = std::isfinite(ci.df) ? json(ci.df) : json(nullptr);  // null: exact
        out["intervals"].push_back({ci.low, ci.high});
    }
    return out;
}

}  // namespace

CLI::App* add_interval_command(CLI::App& app) {
    return app.add_subcommand("interval",
                              "confidence intervals of trimmed-mean contrasts, one JSON request a line on "
                              "stdin, one answer a line on stdout (for the report's verdicts)");
}

int interval_command() {
    std::string line;
    while (std::getline(std::cin, line)) {
        if (line.empty()) continue;
        json reply;
        try {
            reply = answer(json::parse(line));
        } catch (const std::exception& error) {  // json::parse_error included
            reply = {{"error", error.what()}};
        }
        std::cout << reply.dump() << std::endl;  // flushed: the client waits for this line
    }
    return 0;
}

}  // namespace allocproof::driver
