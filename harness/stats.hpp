// Statistics over repetitions: order statistics and a bootstrap confidence interval for the
// ratio of two medians. Everything is deterministic for a given seed.
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

}  // namespace allocproof::stats
