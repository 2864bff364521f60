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

struct sql_mix_size {
    std::uint64_t rows = 0;       // customers; orders are four times as many
    std::uint64_t rounds = 4;     // rounds of updates and deletes, each followed by the queries
    std::uint64_t cache_mib = 0;  // the page cache (PRAGMA cache_size); 0: sqlite's default, 2 MiB
};

// Tables of customers and orders with text of varied length, bulk inserts in transactions, an
// index, joins and aggregates, updates and deletes, and queries after each change.
sql_script make_sql_mix(std::uint64_t seed, const sql_mix_size& size);

}  // namespace allocproof::driver
