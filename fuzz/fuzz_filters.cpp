// The command-line filters of `run` and the request a results file stores for --resume:
// split_list, parse_counts, parse_shard, expand_patterns (shell-style globs, bad ones included)
// and matrix_request_from_json. The input is five lines:
//   1: a list for split_list and parse_counts   2: a --shard value
//   3: patterns (comma-separated)                4: known names (comma-separated)
//   5 (and the rest): a stored request, JSON
// Bad input must be a usage_error; what each parser returns must keep its documented promise
// (parse_counts: each distinct count once; parse_shard: 1 <= i <= n <= max_shards, no wrapping).
#include "fuzz/fuzz_support.hpp"

#include "harness/driver/matrix.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <functional>

using json = nlohmann::json;
using namespace allocproof::driver;
using namespace allocproof::fuzz;

namespace {

// Runs `parse`; a usage_error is the expected refusal of bad input.
template <class Parse>
void expecting_usage_error(Parse&& parse) {
    try {
        std::invoke(std::forward<Parse>(parse));
    } catch (const usage_error&) {}
}

void check_lists(const std::string& text) {
    expecting_usage_error([&] {
        const auto items = split_list(text, "--workloads");
        if (fmt::format("{}", fmt::join(items, ",")) != text)
            broken("split_list", "the items do not rejoin to the text");
        if (std::ranges::any_of(items, [](const auto& item) { return item.empty(); }))
            broken("split_list", "an empty item");
    });
    expecting_usage_error([&] {
        const auto counts = parse_counts(text, "--threads");
        // One count per distinct item: a count given twice would plan two cells of one id.
        std::vector<unsigned> items;
        for (const auto& item : split_list(text, "--threads")) {
            const auto count = static_cast<unsigned>(std::stoul(item));
            if (std::ranges::find(items, count) == items.end()) items.push_back(count);
        }
        if (counts != items) broken("parse_counts", "not one count per distinct item, in order");
    });
}

void check_shard(const std::string& text) {
    expecting_usage_error([&] {
        const auto [index, count] = parse_shard(text);
        if (index < 1 || index > count || count > max_shards) {
            broken("parse_shard", fmt::format("{}/{} from '{}'", index, count, text));
        }
    });
}

void check_patterns(const std::string& patterns, const std::string& known_text) {
    // Known names as the driver has them: no empty ones; a workload's forms after ':'.
    std::vector<std::string> known{"node_churn", "string_pool:plain", "string_pool:interned", "glibc", "std"};
    expecting_usage_error([&] {
        for (auto& name : split_list(known_text, "known")) known.push_back(std::move(name));
    });
    expecting_usage_error([&] {
        const auto names = expand_patterns(split_list(patterns, "--workloads"), known, "workload");
        // The chosen names are known ones, in the order of `known`, each once.
        auto next = known.begin();
        for (const auto& name : names) {
            next = std::find(next, known.end(), name);
            if (next == known.end()) broken("expand_patterns", "'" + name + "' is not known, repeated or out of order");
            ++next;
        }
        if (names.empty()) broken("expand_patterns", "patterns that each match something chose nothing");
    });
}

void check_request(const std::string& text) {
    const json stored = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (stored.is_discarded()) return;  // not JSON: load_results refuses it before this parser
    expecting_usage_error([&] {
        // What to_json writes, matrix_request_from_json reads back unchanged, so a resumed run is
        // the run that was started.
        const json written = to_json(matrix_request_from_json(stored));
        if (to_json(matrix_request_from_json(written)) != written) {
            broken("matrix_request_from_json", "does not read back what to_json wrote: " + written.dump());
        }
    });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto field = fields(data, size, 5);
    check_lists(field[0]);
    check_shard(field[1]);
    check_patterns(field[2], field[3]);
    check_request(field[4]);
    return 0;
}
