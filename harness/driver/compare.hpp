// `allocproof compare A B`: a CI gate. Matches the cells of two runs and tests, metric by metric,
// whether B's repetitions differ from A's (two-sided Mann-Whitney U) by more than a threshold.
#pragma once

#include "harness/driver/exit_codes.hpp"  // compare exits exit_regression on a regression

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace allocproof::driver {

struct compare_options {
    std::string a, b;  // run folders or results.json(.gz) files
    std::vector<std::string> metrics{"ns_per_op"};
    double alpha = 0.05;              // significance level of the U test
    double threshold = 0.05;          // smallest relative change of the median that counts
    bool fail_on_untestable = false;  // exit 1 on a large change that is too few reps to test
    std::string json_out;             // where to write the whole comparison, if set
};

// Registers the `compare` subcommand and its options, filling `options` when parsed.
CLI::App* add_compare_command(CLI::App& app, compare_options& options);

// Prints the report, writes --json, and returns the exit code. Bad input: one line on stderr, 2.
int compare_command(const compare_options& options);

}  // namespace allocproof::driver
