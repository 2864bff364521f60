// Statistics against values worked out by hand (and checked with R's quantile(type = 7)).
#include "harness/stats.hpp"

#include <boost/math/distributions/students_t.hpp>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include <vector>

using namespace allocproof::stats;

TEST(Stats, QuantileInterpolatesBetweenOrderStatistics) {
    std::vector<double> v{10, 40, 20, 30};  // sorted: 10 20 30 40
    EXPECT_DOUBLE_EQ(quantile(v, 0.0), 10);
    EXPECT_DOUBLE_EQ(quantile(v, 1.0), 40);
    EXPECT_DOUBLE_EQ(quantile(v, 0.5), 25);     // halfway between 20 and 30
    EXPECT_DOUBLE_EQ(quantile(v, 0.25), 17.5);  // position 0.75: 10 + 0.75 * 10
    EXPECT_DOUBLE_EQ(quantile(v, 0.9), 37);     // position 2.7: 30 + 0.7 * 10
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

// ---- Yuen's trimmed-mean intervals ----------------------------------------------------------------
// Reference figures from SciPy 1.10: scipy.stats.ttest_ind(x, y, equal_var=False, trim=0.2) gives
// Yuen's statistic (estimate / standard error) and two-sided p, which fixes the degrees of freedom.

namespace {
double two_sided_p(const interval& ci) {
    const double t = std::fabs(ci.estimate / ci.std_error);
    return 2 * boost::math::cdf(boost::math::complement(boost::math::students_t(ci.df), t));
}
}  // namespace

TEST(Stats, TrimmedContrastMatchesScipyYuen) {
    std::vector<double> x{9, 10, 11, 10, 10.5, 30, 9.7}, y{19, 20, 21, 20, 20.5, 19.5};
    const term terms[] = {{x, 1}, {y, -1}};
    auto ci = trimmed_contrast(terms);
    EXPECT_NEAR(ci.estimate, 10.24 - 20.0, 1e-12);  // scipy.stats.trim_mean(., 0.2) of each
    EXPECT_NEAR(ci.estimate / ci.std_error, -23.065641759709045, 1e-9);
    EXPECT_NEAR(two_sided_p(ci), 7.809424846894287e-08, 1e-12);
    const double half = t_critical(ci.df, 0.95) * ci.std_error;
    EXPECT_NEAR(ci.low, ci.estimate - half, 1e-12);
    EXPECT_NEAR(ci.high, ci.estimate + half, 1e-12);
}

TEST(Stats, RatioIntervalIsTheLogContrastBackOnTheRatioScale) {
    std::vector<double> fast{50, 51, 49, 50.5, 49.5, 50.2, 49.8}, slow{100, 102, 98, 101, 99, 100.4, 99.6};
    auto ci = ratio_interval(fast, slow);
    EXPECT_NEAR(ci.estimate, 0.5, 1e-12);
    EXPECT_NEAR(std::log(ci.estimate) / ci.std_error, -105.4552657868303, 1e-7);
    EXPECT_LT(ci.low, 0.5);
    EXPECT_GT(ci.high, 0.5);
    EXPECT_LT(ci.high, 0.52);  // 1-2% noise on 7 values: a narrow interval
    EXPECT_NEAR(std::log(ci.high) - std::log(ci.estimate), std::log(ci.estimate) - std::log(ci.low), 1e-12);
}

TEST(Stats, OneOutlierMovesNeitherEstimateNorInterval) {
    // The 20% trim drops one value at each end of 5..9 values: a slow repetition is not averaged in.
    std::vector<double> base{100, 101, 99, 100.5, 99.5, 100.2, 99.8};
    std::vector<double> quiet{80, 81, 79, 80.5, 79.5, 80.2, 79.8}, one_slow{80, 81, 79, 80.5, 79.5, 80.2, 160};
    auto a = ratio_interval(quiet, base), b = ratio_interval(one_slow, base);
    EXPECT_NEAR(a.estimate, b.estimate, 0.005);
    EXPECT_LT(b.high, 0.85);
}

TEST(Stats, ConstantSamplesGiveAnExactValue) {
    std::vector<double> candidate(5, 30.0), baseline(5, 60.0);
    auto ci = ratio_interval(candidate, baseline);
    EXPECT_DOUBLE_EQ(ci.estimate, 0.5);
    EXPECT_DOUBLE_EQ(ci.low, 0.5);
    EXPECT_DOUBLE_EQ(ci.high, 0.5);
    EXPECT_EQ(ci.std_error, 0);
}

TEST(Stats, FewValuesFallBackToWelch) {
    // Below 5 values nothing is trimmed: the trimmed mean is the mean, the variance the usual one.
    std::vector<double> v{1, 2, 6};
    auto s = trim_sample(v);
    EXPECT_DOUBLE_EQ(s.mean, 3);
    EXPECT_NEAR(s.variance, 7.0 / 3, 1e-12);  // sample variance 7, over n = 3
    EXPECT_DOUBLE_EQ(s.df, 2);
}

TEST(Stats, WeightsCombineSeveralPairs) {
    // The mean of two log-ratios (a geometric mean of two ratios): weights 1/2, variances add.
    std::vector<double> a{1, 2, 3, 4, 5}, b{2, 3, 4, 5, 6};
    const term one[] = {{a, 1}, {b, -1}};
    const term two[] = {{a, 0.5}, {b, -0.5}, {a, 0.5}, {b, -0.5}};
    auto single = trimmed_contrast(one), doubled = trimmed_contrast(two);
    EXPECT_NEAR(single.estimate, doubled.estimate, 1e-12);
    EXPECT_NEAR(doubled.std_error, single.std_error / std::sqrt(2.0), 1e-12);
}

TEST(Stats, TCriticalMatchesTables) {
    EXPECT_NEAR(t_critical(7.5, 0.95), 2.333039626555376, 1e-9);  // scipy.stats.t.ppf(0.975, 7.5)
    EXPECT_NEAR(t_critical(std::numeric_limits<double>::infinity(), 0.95), 1.959963984540054, 1e-9);
}

TEST(Stats, IntervalsRejectTooFewOrNonPositiveValues) {
    std::vector<double> some{1, 2}, one{1}, none, zeros{0, 1};
    EXPECT_THROW(ratio_interval(some, none), std::invalid_argument);
    EXPECT_THROW(ratio_interval(one, some), std::invalid_argument);
    EXPECT_THROW(ratio_interval(some, zeros), std::invalid_argument);
    EXPECT_THROW(trimmed_contrast(std::span<const term>{}), std::invalid_argument);
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
