#include "harness/stats.hpp"
#include <gtest/gtest.h>
TEST(Stats, Placeholder) { EXPECT_EQ(allocproof::stats::median(std::vector<double>{3, 1, 2}), 2); }
