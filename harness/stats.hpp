// Statistics over repetitions: order statistics, confidence intervals of contrasts and ratios, and
// the Mann-Whitney U test. Everything is deterministic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace allocproof::stats {

struct summary {
    std::size_t n = 0;
    double median = 0, min = 0, max = 0, mean = 0;
    double stddev = 0;  // sample standard deviation (n - 1)
    double cv = 0;      // stddev / mean; 0 when the mean is 0
};

// Quantile by linear interpolation between order statistics (Hyndman & Fan type 7, the default
// of R and NumPy). `values` need not be sorted. Empty input gives 0.
double quantile(std::span<const double> values, double q);
double median(std::span<const double> values);
summary summarize(std::span<const double> values);

// ---- confidence intervals -------------------------------------------------------------------
// Every interval the project prints (the driver's table, summary.csv, `compare`, the verdicts of
// the report) comes from here, through `allocproof interval` for the Python side.
//
// The method is Yuen's: 20% trimmed means, winsorized variances and Welch-Satterthwaite degrees
// of freedom (Yuen 1974, "The two-sample trimmed t for unequal population variances", Biometrika
// 61; Wilcox, "Introduction to Robust Estimation and Hypothesis Testing", ch. 5). Why not the
// percentile bootstrap of medians used before: with 3 to 8 repetitions a bootstrap can only return
// observed values, so its "95%" interval is a min-max range that covers the true ratio 78-91% of
// the time (tests/test_interval_coverage.cpp measures it). Yuen's interval is a t interval, valid at
// small n, and its trimming keeps an occasional slow repetition from moving the estimate; where
// less than one value per side is trimmed (n < 5) it is Welch's interval. Ratios are taken on the
// log scale, where timing noise is close to symmetric and a ratio is a difference.
inline constexpr double default_trim = 0.2;

// One sample's trimmed mean and the squared standard error of it.
struct trimmed_sample {
    std::size_t n = 0;
    double mean = 0;
    double variance = 0;  // of the trimmed mean: (n - 1) * winsorized variance / (h * (h - 1))
    double df = 0;        // h - 1, where h values are kept
};
// Needs at least 2 values.
trimmed_sample trim_sample(std::span<const double> values, double trim = default_trim);

// One sample in a contrast: weight * trimmed mean of `values`.
struct term {
    std::span<const double> values;
    double weight = 1;
};

struct interval {
    double estimate = 0;  // the contrast on the data as measured
    double low = 0;       // bounds of the confidence interval
    double high = 0;
    double std_error = 0;  // 0 when every sample is constant: then low = high = estimate
    double df = 0;         // Welch-Satterthwaite; infinite when std_error is 0
};

// sum of weight * trimmed mean over the terms, with its confidence interval. Each term needs at
// least 2 values (std::invalid_argument otherwise).
interval trimmed_contrast(std::span<const term> terms, double confidence = 0.95);

// The typical candidate / baseline: exp of the contrast of the log values, its interval likewise.
// Every value must be positive and each side have 2 or more (std::invalid_argument otherwise).
interval ratio_interval(std::span<const double> candidate, std::span<const double> baseline, double confidence = 0.95);

// The two-sided Student t quantile for a confidence level at df degrees of freedom (the normal one
// for infinite df).
double t_critical(double df, double confidence);

// Two-sided Mann-Whitney U test (Wilcoxon rank-sum) of "x and y come from one distribution".
// Repetitions of a benchmark are few and their noise is not normal, hence a rank test.
struct rank_test {
    double u = 0;        // pairs (x_i, y_j) with x_i > y_j, a tie counting one half
    double p = 1;        // two-sided p-value
    bool exact = false;  // from the exact null distribution; otherwise the normal approximation
};

// Up to this many values per sample, and with no tied values, p comes from the exact null
// distribution; otherwise from the normal approximation with tie and continuity corrections.
inline constexpr std::size_t mann_whitney_exact_limit = 20;

// Needs at least one value in each sample.
rank_test mann_whitney(std::span<const double> x, std::span<const double> y);

// The smallest two-sided p that samples of these sizes can reach (both fully separated, no
// ties): a test at level alpha can reject only if this is below alpha. 1 when a sample is empty.
double mann_whitney_min_p(std::size_t n1, std::size_t n2);

}  // namespace allocproof::stats
