// `allocproof merge DIR... --out DIR`: the parts of a run measured on several machines (the
// shards of `run --shard i/n`), or whole runs of several machines, as one results file with the
// machines side by side.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace allocproof::driver {

struct merge_options {
    std::vector<std::string> inputs;  // run folders or results.json(.gz) files
    std::string out;                  // the folder to write results.json and summary.csv to
    bool allow_different_plans = false;
};

CLI::App* add_merge_command(CLI::App& app, merge_options& options);

// Writes the merged run and returns 0; bad input: one line on stderr, 2, and nothing written.
int merge_command(const merge_options& options);

}  // namespace allocproof::driver
