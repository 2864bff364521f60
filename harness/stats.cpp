#include "harness/stats.hpp"

#include "allocproof/workload.hpp"  // split_mix

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace allocproof::stats {

namespace {

double quantile_of_sorted(const std::vector<double>& sorted, double q) {
    if (sorted.empty()) {
        return 0;
    }
    double position = std::clamp(q, 0.0, 1.0) * static_cast<double>(sorted.size() - 1);
    auto below = static_cast<std::size_t>(std::floor(position));
    std::size_t above = std::min(below + 1, sorted.size() - 1);
    double fraction = position - static_cast<double>(below);
    return sorted[below] + fraction * (sorted[above] - sorted[below]);
}

std::vector<double> sorted_copy(std::span<const double> values) {
    std::vector<double> sorted(values.begin(), values.end());
    std::ranges::sort(sorted);
    return sorted;
}

}  // namespace

double quantile(std::span<const double> values, double q) {
    return quantile_of_sorted(sorted_copy(values), q);
}

double median(std::span<const double> values) { return quantile(values, 0.5); }

summary summarize(std::span<const double> values) {
    summary s;
    s.n = values.size();
    if (values.empty()) {
        return s;
    }
    auto sorted = sorted_copy(values);
    s.median = quantile_of_sorted(sorted, 0.5);
    s.min = sorted.front();
    s.max = sorted.back();
    double sum = 0;
    for (double v : sorted) sum += v;
    s.mean = sum / static_cast<double>(s.n);
    if (s.n > 1) {
        double squares = 0;
        for (double v : sorted) squares += (v - s.mean) * (v - s.mean);
        s.stddev = std::sqrt(squares / static_cast<double>(s.n - 1));
    }
    s.cv = s.mean != 0 ? s.stddev / std::fabs(s.mean) : 0;
    return s;
}

interval bootstrap_ratio_of_medians(std::span<const double> candidate,
                                    std::span<const double> baseline, std::uint64_t seed,
                                    int resamples, double confidence) {
    if (candidate.empty() || baseline.empty()) {
        throw std::invalid_argument("bootstrap needs values on both sides");
    }
    double base = median(baseline);
    if (base == 0) {
        throw std::invalid_argument("bootstrap ratio with a zero baseline median");
    }
    interval result;
    result.estimate = median(candidate) / base;

    split_mix random(seed);
    std::vector<double> ratios;
    ratios.reserve(static_cast<std::size_t>(resamples));
    std::vector<double> draw_c(candidate.size()), draw_b(baseline.size());
    for (int r = 0; r < resamples; ++r) {
        for (auto& v : draw_c) v = candidate[random.below(candidate.size())];
        for (auto& v : draw_b) v = baseline[random.below(baseline.size())];
        double b = median(draw_b);
        if (b != 0) {
            ratios.push_back(median(draw_c) / b);
        }
    }
    std::ranges::sort(ratios);
    double tail = (1 - confidence) / 2;
    result.low = quantile_of_sorted(ratios, tail);
    result.high = quantile_of_sorted(ratios, 1 - tail);
    return result;
}

}  // namespace allocproof::stats
