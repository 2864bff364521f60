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

// ---- Mann-Whitney U ------------------------------------------------------------------------------
// Expected values are worked out by hand where noted, and all agree with SciPy 1.10's
// scipy.stats.mannwhitneyu(x, y, alternative="two-sided") with method "exact" or "asymptotic".

TEST(MannWhitney, FullySeparatedSmallSamplesHaveTheExactMinimumP) {
    // Fully separated: U = 0 is one arrangement of C(n1 + n2, n1); two-sided doubles it.
    auto three = mann_whitney(std::vector<double>{1, 2, 3}, std::vector<double>{4, 5, 6});
    EXPECT_TRUE(three.exact);
    EXPECT_DOUBLE_EQ(three.u, 0);
    EXPECT_DOUBLE_EQ(three.p, 2.0 / 20);
    EXPECT_DOUBLE_EQ(mann_whitney(std::vector<double>{1, 2, 3, 4}, std::vector<double>{5, 6, 7, 8}).p, 2.0 / 70);
    auto five = mann_whitney(std::vector<double>{1, 2, 3, 4, 5}, std::vector<double>{6, 7, 8, 9, 10});
    EXPECT_DOUBLE_EQ(five.p, 2.0 / 252);
    // The other way round: U = n1 * n2, same p.
    auto reversed = mann_whitney(std::vector<double>{6, 7, 8, 9, 10}, std::vector<double>{1, 2, 3, 4, 5});
    EXPECT_DOUBLE_EQ(reversed.u, 25);
    EXPECT_DOUBLE_EQ(reversed.p, 2.0 / 252);
}

TEST(MannWhitney, ExactTailOfThreeVersusThree) {
    // x = {1, 2, 4}, y = {3, 5, 6}: only 4 > 3, so U = 1. Of the 20 arrangements, U = 0 and U = 1
    // occur once each: P(U <= 1) = 2/20, two-sided 0.2.
    auto r = mann_whitney(std::vector<double>{1, 2, 4}, std::vector<double>{3, 5, 6});
    EXPECT_DOUBLE_EQ(r.u, 1);
    EXPECT_DOUBLE_EQ(r.p, 0.2);
}

TEST(MannWhitney, ExactPOfUnequalSamples) {
    std::vector<double> x{12.1, 14.3, 11.8, 13.0, 15.2, 12.9}, y{13.5, 16.1, 14.8, 17.0, 15.9};
    auto r = mann_whitney(x, y);
    EXPECT_TRUE(r.exact);
    EXPECT_DOUBLE_EQ(r.u, 3);
    EXPECT_NEAR(r.p, 0.030303030303030304, 1e-12);  // 2 * 5/462: U <= 3 in 5 of C(11, 5) arrangements
}

TEST(MannWhitney, ExactDistributionMatchesEnumeration) {
    // Every split of the ranks 0..n-1 into samples of n1 and n2: the p of each split must be the
    // doubled smaller tail of the U values counted over all splits.
    for (auto [n1, n2] : {std::pair<int, int>{4, 6}, {7, 7}, {8, 3}}) {
        const int n = n1 + n2;
        std::vector<int> u_of_split;
        std::vector<unsigned> splits;
        for (unsigned mask = 0; mask < (1u << n); ++mask) {
            if (__builtin_popcount(mask) != n1) continue;
            int u = 0;
            for (int i = 0; i < n; ++i) {
                for (int j = 0; j < n; ++j) {
                    if ((mask >> i & 1) && !(mask >> j & 1) && i > j) ++u;
                }
            }
            u_of_split.push_back(u);
            splits.push_back(mask);
        }
        const double total = static_cast<double>(splits.size());
        for (std::size_t k = 0; k < splits.size(); k += 7) {
            std::vector<double> x, y;
            for (int i = 0; i < n; ++i) (splits[k] >> i & 1 ? x : y).push_back(i);
            const int u = u_of_split[k];
            double below = 0, above = 0;
            for (int other : u_of_split) {
                below += other <= u;
                above += other >= u;
            }
            auto r = mann_whitney(x, y);
            ASSERT_TRUE(r.exact);
            EXPECT_DOUBLE_EQ(r.u, u);
            EXPECT_NEAR(r.p, std::min(1.0, 2 * std::min(below, above) / total), 1e-12) << n1 << " vs " << n2;
        }
    }
}

TEST(MannWhitney, TiesUseTheCorrectedNormalApproximation) {
    // Pooled ranks: 1 -> 1, the three 2s -> 3, the three 3s -> 6, 4 -> 8. Rank sum of x = 13, so
    // U = 13 - 10 = 3; mean 8; variance 16/12 * (9 - (24 + 24) / 56) = 10.857;
    // z = (5 - 0.5) / 3.295 = 1.366; p = erfc(z / sqrt 2) = 0.172.
    auto r = mann_whitney(std::vector<double>{1, 2, 2, 3}, std::vector<double>{2, 3, 3, 4});
    EXPECT_FALSE(r.exact);
    EXPECT_DOUBLE_EQ(r.u, 3);
    EXPECT_NEAR(r.p, 0.1720337089218229, 1e-12);
    // Constant but different samples (a count that is the same every repetition).
    auto counts = mann_whitney(std::vector<double>(5, 100), std::vector<double>(5, 150));
    EXPECT_NEAR(counts.p, 0.003976751709788651, 1e-12);
    // The same values on both sides, or everything tied: no difference at all.
    EXPECT_DOUBLE_EQ(mann_whitney(std::vector<double>{1, 2, 3}, std::vector<double>{1, 2, 3}).p, 1);
    EXPECT_DOUBLE_EQ(mann_whitney(std::vector<double>{7, 7}, std::vector<double>{7, 7, 7}).p, 1);
}

TEST(MannWhitney, LargeSamplesUseTheNormalApproximation) {
    std::vector<double> x, y;
    for (int i = 1; i <= 25; ++i) {
        x.push_back(i);
        y.push_back(i + 10.5);
    }
    auto r = mann_whitney(x, y);
    EXPECT_FALSE(r.exact);
    EXPECT_DOUBLE_EQ(r.u, 105);  // each x_i beats the y_j with j <= i - 11: sum of 1..14
    EXPECT_NEAR(r.p, 5.909644085596015e-05, 1e-15);
    std::vector<double> a, b;
    for (int i = 0; i < 21; ++i) a.push_back(i * 3 % 23);
    for (int i = 0; i < 22; ++i) b.push_back(i * 5 % 29 + 0.25);
    auto mixed = mann_whitney(a, b);
    EXPECT_DOUBLE_EQ(mixed.u, 181);
    EXPECT_NEAR(mixed.p, 0.22910188406505871, 1e-12);
}

TEST(MannWhitney, MinimumAchievablePDecidesWhetherATestCanReject) {
    EXPECT_DOUBLE_EQ(mann_whitney_min_p(3, 3), 0.1);  // nothing is ever significant at 0.05
    EXPECT_DOUBLE_EQ(mann_whitney_min_p(4, 4), 2.0 / 70);
    EXPECT_DOUBLE_EQ(mann_whitney_min_p(3, 10), 2.0 / 286);
    EXPECT_DOUBLE_EQ(mann_whitney_min_p(1, 1), 1);
    EXPECT_DOUBLE_EQ(mann_whitney_min_p(0, 5), 1);
    EXPECT_LT(mann_whitney_min_p(30, 30), 1e-9);
}

TEST(MannWhitney, RejectsAnEmptySample) {
    std::vector<double> some{1, 2}, none;
    EXPECT_THROW(mann_whitney(some, none), std::invalid_argument);
    EXPECT_THROW(mann_whitney(none, some), std::invalid_argument);
}
