// `allocproof interval`: the project's confidence intervals (harness/stats.hpp) as a service for
// the Python side, so that the report's verdicts and the driver's tables come from one method and
// one implementation. It reads one JSON request a line on standard input and answers each with one
// JSON line on standard output, flushed, so that one process serves a whole evaluation:
//
//   {"terms": [{"values": [..], "weight": 1}, {"values": [..], "weight": -1}],
//    "log": true, "confidence": [0.95, 0.99]}
//   -> {"estimate": e, "std_error": s, "df": d, "n": [n1, n2], "intervals": [[l, h], [l, h]]}
//
// The contrast is sum of weight * (20%-trimmed mean of the term's values), of their logarithms
// with "log" (then every value must be positive); `intervals` follows `confidence`. The answer
// stays on the contrast's scale (log units with "log"). A request that cannot be answered gets
// {"error": "..."} and the service goes on.
#pragma once

namespace CLI {
class App;
}

namespace allocproof::driver {

CLI::App* add_interval_command(CLI::App& app);
int interval_command();

}  // namespace allocproof::driver
