// The SQL script the sqlite3 workload feeds to the program: generated from the seed, so every
// allocator runs the same statements and must print the same query results.
#pragma once

#include <cstdint>
#include <string>

namespace allocproof::driver {

struct sql_script {
    std::string text;
    std::uint64_t statements = 0;  // statements in the script, for a statements/s figure
};

// Tables of customers and orders with text of varied length, bulk inserts in transactions, an
// index, joins and aggregates, updates and deletes, and queries after each change. `rows` is the
// number of customers (orders are four times as many).
sql_script make_sql_mix(std::uint64_t seed, std::uint64_t rows);

}  // namespace allocproof::driver
