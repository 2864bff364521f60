// Statistics over repetitions: order statistics, a bootstrap confidence interval for the ratio of
// two medians, and the Mann-Whitney U test. Everything is deterministic for a given seed.
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

struct interval {
    double estimate = 0;  // the statistic on the data as measured
    double low = 0;       // lower bound of the confidence interval
    double high = 0;
};

// median(candidate) / median(baseline), with a percentile-bootstrap confidence interval: each
// resample draws both samples again with replacement, independently. Needs at least one value on
// each side and a non-zero baseline median.
interval bootstrap_ratio_of_medians(std::span<const double> candidate,
                                    std::span<const double> baseline, std::uint64_t seed,
                                    int resamples = 10000, double confidence = 0.95);

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
