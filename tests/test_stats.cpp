// Statistics against values worked out by hand (and checked with R's quantile(type = 7)).
#include "harness/stats.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace allocproof::stats;

TEST(Stats, QuantileInterpolatesBetweenOrderStatistics) {
    std::vector<double> v{10, 40, 20, 30};  // sorted: 10 20 30 40
    EXPECT_DOUBLE_EQ(quantile(v, 0.0), 10);
    EXPECT_DOUBLE_EQ(quantile(v, 1.0), 40);
    EXPECT_DOUBLE_EQ(quantile(v, 0.5), 25);       // halfway between 20 and 30
    EXPECT_DOUBLE_EQ(quantile(v, 0.25), 17.5);    // position 0.75: 10 + 0.75 * 10
    EXPECT_DOUBLE_EQ(quantile(v, 0.9), 37);       // position 2.7: 30 + 0.7 * 10
    EXPECT_DOUBLE_EQ(quantile(std::vector<double>{}, 0.5), 0);
}

TEST(Stats, MedianOfOddAndEvenCounts) {
    EXPECT_DOUBLE_EQ(median(std::vector<double>{5, 1, 3}), 3);
    EXPECT_DOUBLE_EQ(median(std::vector<double>{4, 1, 3, 2}), 2.5);
    EXPECT_DOUBLE_EQ(median(std::vector<double>{7}), 7);
}

TEST(Stats, SummaryOfKnownSample) {
    // mean 5, squared deviations 9+1+1+9 = 20, sample variance 20/3
    auto s = summarize(std::vector<double>{2, 4, 6, 8});
    EXPECT_EQ(s.n, 4u);
    EXPECT_DOUBLE_EQ(s.min, 2);
    EXPECT_DOUBLE_EQ(s.max, 8);
    EXPECT_DOUBLE_EQ(s.mean, 5);
    EXPECT_DOUBLE_EQ(s.median, 5);
    EXPECT_NEAR(s.stddev, 2.581988897, 1e-9);
    EXPECT_NEAR(s.cv, 2.581988897 / 5, 1e-9);
}

TEST(Stats, SummaryOfOneValueHasNoSpread) {
    auto s = summarize(std::vector<double>{3});
    EXPECT_DOUBLE_EQ(s.stddev, 0);
    EXPECT_DOUBLE_EQ(s.cv, 0);
}

TEST(Stats, BootstrapOfConstantSamplesIsExact) {
    std::vector<double> candidate(5, 30.0), baseline(5, 60.0);
    auto ci = bootstrap_ratio_of_medians(candidate, baseline, 1);
    EXPECT_DOUBLE_EQ(ci.estimate, 0.5);
    EXPECT_DOUBLE_EQ(ci.low, 0.5);
    EXPECT_DOUBLE_EQ(ci.high, 0.5);
}

TEST(Stats, BootstrapIntervalBracketsTheEstimateAndStaysInsideTheData) {
    std::vector<double> candidate{9, 10, 11, 10, 10.5}, baseline{19, 20, 21, 20, 20.5};
    auto ci = bootstrap_ratio_of_medians(candidate, baseline, 7);
    EXPECT_DOUBLE_EQ(ci.estimate, 0.5);
    EXPECT_LE(ci.low, ci.estimate);
    EXPECT_GE(ci.high, ci.estimate);
    EXPECT_LT(ci.low, ci.high);
    // No resample's median can leave [min, max] of its sample.
    EXPECT_GE(ci.low, 9.0 / 21.0);
    EXPECT_LE(ci.high, 11.0 / 19.0);
}

TEST(Stats, BootstrapIsDeterministicForASeed) {
    std::vector<double> a{1, 2, 3, 4, 5}, b{2, 3, 4, 5, 6};
    auto first = bootstrap_ratio_of_medians(a, b, 99);
    auto second = bootstrap_ratio_of_medians(a, b, 99);
    EXPECT_EQ(first.low, second.low);
    EXPECT_EQ(first.high, second.high);
}

TEST(Stats, BootstrapSeparatesClearlyDifferentSamples) {
    // Two samples 2x apart with 2% noise: the interval must exclude 1 and include the truth.
    std::vector<double> fast{50, 51, 49, 50.5, 49.5, 50.2, 49.8}, slow{100, 102, 98, 101, 99, 100.4, 99.6};
    auto ci = bootstrap_ratio_of_medians(fast, slow, 3);
    EXPECT_LT(ci.high, 1.0);
    EXPECT_LE(ci.low, 0.5);
    EXPECT_GE(ci.high, 0.5);
}

TEST(Stats, BootstrapRejectsEmptyOrZeroBaseline) {
    std::vector<double> some{1, 2}, none, zeros{0, 0};
    EXPECT_THROW(bootstrap_ratio_of_medians(some, none, 1), std::invalid_argument);
    EXPECT_THROW(bootstrap_ratio_of_medians(none, some, 1), std::invalid_argument);
    EXPECT_THROW(bootstrap_ratio_of_medians(some, zeros, 1), std::invalid_argument);
}
