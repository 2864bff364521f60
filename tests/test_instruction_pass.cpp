// `allocproof instructions` (harness/driver/instruction_pass.hpp): the reading of callgrind's
// files, and the allocation part of a cell whose allocation cost is known. Instruction counts are
// deterministic, so these tests assert figures; no test here times anything.
#include "harness/driver/callgrind_file.hpp"
#include "tests/driver_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <string>

using json = nlohmann::json;
using allocproof::driver::is_allocation_code;
using allocproof::driver::split_callgrind_file;
using allocproof::testing::driver;
using allocproof::testing::Scratch;

TEST(InstructionPass, AllocationCodeIsTheStrategysTheGlobalAllocatorsAndTheCountingNew) {
    EXPECT_TRUE(is_allocation_code("/x/allocproof-cell-glibc", "/src/strategies/fixed_pool.hpp"));
    EXPECT_TRUE(is_allocation_code("/usr/lib/x86_64-linux-gnu/libc.so.6", "./malloc/./malloc/malloc.c"));
    EXPECT_TRUE(is_allocation_code("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "???"));
    EXPECT_TRUE(is_allocation_code("/x/allocproof-cell-glibc", "/src/harness/counting_new.cpp"));
    EXPECT_TRUE(is_allocation_code("/x/allocproof-cell-glibc", "/usr/include/c++/12/bits/new_allocator.h"));
    EXPECT_FALSE(is_allocation_code("/x/allocproof-cell-glibc", "/src/workloads/node_churn.hpp"));
    EXPECT_FALSE(is_allocation_code("/usr/lib/x86_64-linux-gnu/libc.so.6", "./string/../sysdeps/x86_64/memcpy.S"));
    EXPECT_FALSE(is_allocation_code("/x/allocproof-cell-glibc", "/usr/include/c++/12/bits/stl_vector.h"));
}

// A file in callgrind's format (compressed names, inlined code, a call): every line's own count
// once, calls' inclusive costs not again, and the total checked against the file's own.
TEST(InstructionPass, ACallgrindFileIsSplitLineByLine) {
    Scratch s;
    std::filesystem::create_directories(s.path());
    const auto file = (s.path() / "callgrind.out").string();
    std::ofstream(file) << "version: 1\ncreator: callgrind-3.19.0\npositions: line\nevents: Ir\n"
                           "summary: 1175\n\n"
                           "ob=(1) /x/allocproof-cell-glibc\n"
                           "fl=(1) /src/workloads/node_churn.hpp\n"
                           "fn=(1) operation\n"
                           "10 100\n"
                           "fi=(2) /src/strategies/fixed_pool.hpp\n"
                           "+5 20\n"
                           "fe=(1)\n"
                           "-3 30\n"
                           "cob=(2) /usr/lib/x86_64-linux-gnu/libc.so.6\n"
                           "cfi=(3) ./malloc/./malloc/malloc.c\n"
                           "cfn=(2) malloc\n"
                           "calls=2 50\n"
                           "12 1000\n"
                           "* 25\n"
                           "ob=(2)\n"
                           "fl=(3)\n"
                           "fn=(2)\n"
                           "50 1000\n"
                           "totals: 1175\n";
    const auto split = split_callgrind_file(file);
    EXPECT_EQ(split.total, 1175);
    EXPECT_EQ(split.allocation, 1020);  // 20 inlined from the strategy, 1000 in malloc
    std::ofstream(file, std::ios::app) << "totals: 9999\n";
    EXPECT_THROW(split_callgrind_file(file), std::runtime_error);  // does not add up: said, not guessed
}

// With --cache-sim=yes each cost line carries every event in the order `events:` names them, its
// trailing zeros left out; each event is summed and checked against the file's own total.
TEST(InstructionPass, SimulatedCacheEventsAreSummedEventByEvent) {
    Scratch s;
    std::filesystem::create_directories(s.path());
    const auto file = (s.path() / "callgrind.out").string();
    const std::string head =
        "version: 1\npositions: line\nevents: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw\n"
        "ob=(1) /x/allocproof-cell-glibc\nfl=(1) /src/strategies/fixed_pool.hpp\nfn=(1) allocate\n"
        "10 100 40 10 2 5 1 1 3\n"
        "11 50 20\n"                                                            // no misses: left out
        "cfn=(2) malloc\ncalls=1 50\n12 999 999 999 999 999 999 999 999 999\n"  // inclusive: not again
        "13 7 0 0 0 0 4\n";
    std::ofstream(file) << head << "totals: 157 60 10 2 5 5 1 3\n";
    const auto split = split_callgrind_file(file);
    EXPECT_EQ(split.total, 157);
    EXPECT_EQ(split.allocation, 157);
    EXPECT_EQ(split.events.at("Dr"), 60);
    EXPECT_EQ(split.events.at("D1mr"), 5);
    EXPECT_EQ(split.events.at("D1mw"), 5);
    EXPECT_EQ(split.events.at("DLmr"), 3);
    EXPECT_FALSE(split.events.contains("Ir"));
    std::ofstream(file) << head << "totals: 157 60 10 2 5 6 1 3\n";  // D1mw does not add up
    EXPECT_THROW(split_callgrind_file(file), std::runtime_error);
    std::ofstream(file) << "version: 1\nevents: Dr Ir\n";  // a file that does not count instructions first
    EXPECT_THROW(split_callgrind_file(file), std::runtime_error);
}

// node_churn makes exactly one strategy call per operation; thousand_nops spends 1000 nops in each,
// besides a pointer bump of a few instructions. The pass must find that, within 3%.
TEST(InstructionPass, TheAllocationPartOfAKnownCostIsFound) {
    // A sanitizer's runtime reserves terabytes of shadow memory, which valgrind cannot host.
    if (std::string(ALLOCPROOF_SANITIZE).size() > 0) GTEST_SKIP() << "valgrind cannot run a sanitizer build";
    Scratch s;
    auto r = driver({"run", "--workloads", "node_churn", "--strategies", "std,thousand_nops", "--plugin",
                     ALLOCPROOF_KNOWN_COST_PLUGIN, "--allocators", "glibc", "--threads", "1", "--scale", "test",
                     "--reps", "2", "--out", s.out()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = driver({"instructions", s.out(), "--cells", "all", "--ops", "4000"}, 600);
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    const json results = json::parse(std::ifstream(s.out() + "/results.json"));
    std::map<std::string, json> counts;
    for (const auto& c : results.at("cells")) counts[c.at("strategy")] = c.at("instructions");
    const json& known = counts.at("thousand_nops");
    ASSERT_FALSE(known.contains("error")) << known.dump();
    EXPECT_EQ(known.at("ops"), 4000);
    EXPECT_GE(known.at("allocation_per_op").get<double>(), 1000.0);
    EXPECT_LE(known.at("allocation_per_op").get<double>(), 1030.0);
    EXPECT_EQ(known.at("digest_check"), "std's");  // the same operations as std's
    // The workload's own part is what std's cell does besides allocating, within the 3% that
    // inlining a different strategy may move it.
    const json& plain = counts.at("std");
    EXPECT_NEAR(known.at("other_per_op").get<double>(), plain.at("other_per_op").get<double>(),
                0.03 * plain.at("other_per_op").get<double>());
    EXPECT_GT(plain.at("allocation_per_op").get<double>(), 0.0);
    EXPECT_NEAR(plain.at("allocation_per_op").get<double>() + plain.at("other_per_op").get<double>(),
                plain.at("per_op").get<double>(), 1e-6);
    // Where the VM has no hardware counters, the cell's instructions_per_op is callgrind's.
    for (const auto& c : results.at("cells")) {
        EXPECT_TRUE(c.at("metrics").at("instructions_per_op").is_object()) << c.at("id");
    }
}

TEST(InstructionPass, BadInputIsOneLine) {
    Scratch s;
    auto r = driver({"instructions", s.out()});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
    r = driver({"instructions", s.out(), "--cells", "some"});
    EXPECT_EQ(r.exit_code, 2);
}
