#include "harness/driver/metric_catalogue.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <stdexcept>

namespace allocproof::driver {

extern const char* const metric_catalogue_json;  // generated from results/metrics.json

const std::vector<metric_info>& metric_catalogue() {
    static const std::vector<metric_info> catalogue = [] {
        std::vector<metric_info> out;
        // The file is part of the build: a malformed one fails every run at once, and the tests.
        const auto doc = nlohmann::json::parse(metric_catalogue_json);  // kept: the loop reads into it
        for (const auto& m : doc.at("metrics")) {
            out.push_back({m.at("name"), m.at("of"), m.at("unit"), m.at("better") == "higher",
                           m.value("ratio_to_baseline", false)});
        }
        return out;
    }();
    return catalogue;
}

namespace {

using name_lists = std::map<std::pair<std::string, bool>, std::vector<std::string>>;

// Built once (a function-local static: thread-safe), for every kind of cell the catalogue names.
const std::vector<std::string>& names_where(std::string_view of, bool ratios_only) {
    static const name_lists lists = [] {
        name_lists out;
        for (const auto& m : metric_catalogue()) {
            if (m.name.ends_with('*')) continue;
            out[{m.of, false}].push_back(m.name);
            out[{m.of, true}];
            if (m.ratio_to_baseline) out[{m.of, true}].push_back(m.name);
        }
        return out;
    }();
    static const std::vector<std::string> none;
    auto found = lists.find({std::string(of), ratios_only});
    return found == lists.end() ? none : found->second;
}

}  // namespace

const std::vector<std::string>& metric_names(std::string_view of) { return names_where(of, false); }
const std::vector<std::string>& ratio_metric_names(std::string_view of) { return names_where(of, true); }

bool higher_is_better(std::string_view metric) {
    for (const auto& m : metric_catalogue()) {
        const bool prefix = m.name.ends_with('*');
        if (prefix ? metric.starts_with(std::string_view(m.name).substr(0, m.name.size() - 1)) : metric == m.name) {
            return m.higher_is_better;
        }
    }
    return false;
}

}  // namespace allocproof::driver
