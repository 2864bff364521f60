#include "harness/driver/sql_script.hpp"

#include "allocproof/workload.hpp"

#include <fmt/format.h>

namespace allocproof::driver {

namespace {

// Text whose length varies from a few bytes to a few hundred, so that the program's allocator
// sees many size classes, not one.
std::string random_text(split_mix& random) {
    static constexpr char letters[] = "abcdefghijklmnopqrstuvwxyz ";
    std::uint64_t length = 4 + random.below(random.below(8) == 0 ? 300 : 40);
    std::string text;
    text.reserve(length);
    for (std::uint64_t i = 0; i < length; ++i) text += letters[random.below(sizeof letters - 1)];
    return text;
}

class script_writer {
public:
    void statement(const std::string& sql) {
        text_ += sql;
        text_ += ";\n";
        ++statements_;
    }
    sql_script done() { return {std::move(text_), statements_}; }

private:
    std::string text_;
    std::uint64_t statements_ = 0;
};

}  // namespace

sql_script make_sql_mix(std::uint64_t seed, const sql_mix_size& size) {
    split_mix random(seed ^ 0x5A17E5C819700001ULL);
    const std::uint64_t rows = size.rows;
    script_writer out;
    // The page cache is memory the program's allocator holds (one block per page): the full size
    // makes it large enough to hold the whole database.
    if (size.cache_mib > 0) out.statement(fmt::format("PRAGMA cache_size=-{}", size.cache_mib * 1024));
    // The disk is not what is measured: keep the journal in memory and skip fsync.
    out.statement("PRAGMA journal_mode=MEMORY");
    out.statement("PRAGMA synchronous=OFF");
    out.statement(
        "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, region INTEGER, "
        "balance INTEGER)");
    out.statement(
        "CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER NOT NULL, amount INTEGER, "
        "note TEXT)");
    const std::uint64_t batch = 200;
    auto bulk_insert = [&](const char* table, std::uint64_t count, auto&& row) {
        for (std::uint64_t first = 0; first < count; first += batch) {
            out.statement("BEGIN");
            std::string sql = fmt::format("INSERT INTO {} VALUES ", table);
            for (std::uint64_t i = first; i < std::min(count, first + batch); ++i) {
                if (i != first) sql += ',';
                sql += row(i + 1);
            }
            out.statement(sql);
            out.statement("COMMIT");
        }
    };
    bulk_insert("customers", rows, [&](std::uint64_t id) {
        return fmt::format("({},'{}',{},{})", id, random_text(random), random.below(16), random.below(100000));
    });
    bulk_insert("orders", rows * 4, [&](std::uint64_t id) {
        return fmt::format("({},{},{},'{}')", id, 1 + random.below(rows), random.below(10000), random_text(random));
    });
    out.statement("CREATE INDEX orders_by_customer ON orders(customer)");
    out.statement("CREATE INDEX customers_by_name ON customers(name)");

    auto report = [&] {
        out.statement(
            "SELECT region, count(*), sum(balance), max(length(name)) FROM customers GROUP BY region "
            "ORDER BY region");
        out.statement(
            "SELECT c.region, count(o.id), sum(o.amount), sum(length(o.note)) FROM customers c "
            "JOIN orders o ON o.customer = c.id GROUP BY c.region ORDER BY c.region");
        out.statement(
            "SELECT c.id, c.name, sum(o.amount) AS total FROM customers c JOIN orders o "
            "ON o.customer = c.id GROUP BY c.id ORDER BY total DESC, c.id LIMIT 5");
        out.statement(
            "SELECT substr(group_concat(substr(note, 1, 3), ''), 1, 64) FROM "
            "(SELECT note FROM orders ORDER BY note, id LIMIT 500)");
        out.statement("SELECT count(DISTINCT customer), total(amount) FROM orders WHERE amount > 5000");
    };
    report();
    // Updates that grow and shrink text (reallocations inside the program), then deletes.
    for (std::uint64_t round = 0; round < size.rounds; ++round) {
        std::uint64_t modulus = 3 + random.below(5);
        out.statement("BEGIN");
        out.statement(
            fmt::format("UPDATE orders SET amount = amount + {}, note = note || '{}' "
                        "WHERE customer % {} = {}",
                        1 + random.below(50), random_text(random), modulus, random.below(modulus)));
        out.statement(fmt::format("UPDATE customers SET name = substr(name, 1, {}) WHERE region = {}",
                                  2 + random.below(10), random.below(16)));
        out.statement(fmt::format("DELETE FROM orders WHERE amount % {} = 0", 13 + random.below(20)));
        out.statement("COMMIT");
        report();
    }
    out.statement("SELECT count(*), sum(amount), total(length(note)) FROM orders");
    return out.done();
}

}  // namespace allocproof::driver
