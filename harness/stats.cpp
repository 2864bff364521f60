#include "harness/stats.hpp"

#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
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

double quantile(std::span<const double> values, double q) { return quantile_of_sorted(sorted_copy(values), q); }

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

trimmed_sample trim_sample(std::span<const double> values, double trim) {
    const std::size_t n = values.size();
    if (n < 2) throw std::invalid_argument("a trimmed mean's standard error needs 2 or more values");
    auto sorted = sorted_copy(values);
    const auto g = static_cast<std::size_t>(std::floor(trim * static_cast<double>(n)));
    const std::size_t h = n - 2 * g;
    trimmed_sample s;
    s.n = n;
    s.mean = std::accumulate(sorted.begin() + static_cast<std::ptrdiff_t>(g),
                             sorted.end() - static_cast<std::ptrdiff_t>(g), 0.0) /
             static_cast<double>(h);
    // Winsorized: the g lowest values become the lowest kept one, the g highest the highest kept.
    for (std::size_t i = 0; i < g; ++i) {
        sorted[i] = sorted[g];
        sorted[n - 1 - i] = sorted[n - 1 - g];
    }
    const double winsorized_mean = std::accumulate(sorted.begin(), sorted.end(), 0.0) / static_cast<double>(n);
    double squares = 0;
    for (double v : sorted) squares += (v - winsorized_mean) * (v - winsorized_mean);
    const double winsorized_variance = squares / static_cast<double>(n - 1);
    const auto dh = static_cast<double>(h);
    s.variance = static_cast<double>(n - 1) * winsorized_variance / (dh * (dh - 1));
    s.df = dh - 1;
    return s;
}

double t_critical(double df, double confidence) {
    const double tail = (1 - confidence) / 2;
    if (!std::isfinite(df) || df > 1e7) {
        return boost::math::quantile(boost::math::complement(boost::math::normal(), tail));
    }
    return boost::math::quantile(boost::math::complement(boost::math::students_t(df), tail));
}

interval trimmed_contrast(std::span<const term> terms, double confidence) {
    if (terms.empty()) throw std::invalid_argument("a contrast needs at least one sample");
    interval result;
    double variance = 0, df_denominator = 0;
    for (const auto& t : terms) {
        const auto s = trim_sample(t.values);
        const double part = t.weight * t.weight * s.variance;
        result.estimate += t.weight * s.mean;
        variance += part;
        if (part > 0) df_denominator += part * part / s.df;
    }
    result.std_error = std::sqrt(variance);
    if (variance == 0) {  // constant samples (counts fixed by construction): the value is exact
        result.low = result.high = result.estimate;
        result.df = std::numeric_limits<double>::infinity();
        return result;
    }
    result.df = variance * variance / df_denominator;
    const double half = t_critical(result.df, confidence) * result.std_error;
    result.low = result.estimate - half;
    result.high = result.estimate + half;
    return result;
}

interval ratio_interval(std::span<const double> candidate, std::span<const double> baseline, double confidence) {
    auto logs = [](std::span<const double> values) {
        std::vector<double> out;
        out.reserve(values.size());
        for (double v : values) {
            if (!(v > 0)) throw std::invalid_argument("a ratio interval needs positive values");
            out.push_back(std::log(v));
        }
        return out;
    };
    const auto c = logs(candidate), b = logs(baseline);
    const term terms[] = {{c, 1}, {b, -1}};
    interval log_scale = trimmed_contrast(terms, confidence);
    return {std::exp(log_scale.estimate), std::exp(log_scale.low), std::exp(log_scale.high), log_scale.std_error,
            log_scale.df};
}

namespace {

// Number of arrangements of n1 + n2 distinct values giving each U = 0 .. n1*n2: the coefficients
// of the Gaussian binomial [n1 + n2 choose n1]_q, built up as
// [n2 + i choose i] = [n2 + i - 1 choose i - 1] * (1 - q^(n2 + i)) / (1 - q^i).
// Integers throughout; for n1, n2 <= 20 they stay below 2 * C(40, 20), far inside int64.
std::vector<std::int64_t> u_distribution(std::size_t n1, std::size_t n2) {
    std::vector<std::int64_t> counts(n1 * n2 + 1, 0);
    counts[0] = 1;
    for (std::size_t i = 1; i <= n1; ++i) {
        const std::size_t grow = n2 + i;
        for (std::size_t j = counts.size(); j-- > grow;) counts[j] -= counts[j - grow];
        for (std::size_t j = i; j < counts.size(); ++j) counts[j] += counts[j - i];
    }
    return counts;
}

}  // namespace

rank_test mann_whitney(std::span<const double> x, std::span<const double> y) {
    if (x.empty() || y.empty()) {
        throw std::invalid_argument("the Mann-Whitney test needs values in both samples");
    }
    const std::size_t n1 = x.size(), n2 = y.size(), n = n1 + n2;
    // Midranks of the pooled values; sum of (t^3 - t) over tie groups for the variance.
    std::vector<std::pair<double, bool>> pooled;  // value, from x
    pooled.reserve(n);
    for (double v : x) pooled.emplace_back(v, true);
    for (double v : y) pooled.emplace_back(v, false);
    std::ranges::sort(pooled, {}, &std::pair<double, bool>::first);
    double rank_sum_x = 0, ties = 0;
    for (std::size_t start = 0; start < n;) {
        std::size_t end = start;
        while (end < n && pooled[end].first == pooled[start].first) ++end;
        const double midrank = (static_cast<double>(start + 1) + static_cast<double>(end)) / 2;
        for (std::size_t k = start; k < end; ++k) {
            if (pooled[k].second) rank_sum_x += midrank;
        }
        const double t = static_cast<double>(end - start);
        ties += t * t * t - t;
        start = end;
    }
    const double d1 = static_cast<double>(n1), d2 = static_cast<double>(n2), dn = static_cast<double>(n);
    rank_test result;
    result.u = rank_sum_x - d1 * (d1 + 1) / 2;
    const double mean = d1 * d2 / 2;

    if (ties == 0 && n1 <= mann_whitney_exact_limit && n2 <= mann_whitney_exact_limit) {
        // The null distribution is symmetric about its mean: the two-sided p doubles the tail
        // on the side of the smaller of U and n1*n2 - U.
        const auto counts = u_distribution(n1, n2);
        const auto tail_end = static_cast<std::size_t>(std::min(result.u, d1 * d2 - result.u));
        const std::int64_t total = std::accumulate(counts.begin(), counts.end(), std::int64_t{0});
        const std::int64_t tail = std::accumulate(
            counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(tail_end) + 1, std::int64_t{0});
        result.p = std::min(1.0, 2 * static_cast<double>(tail) / static_cast<double>(total));
        result.exact = true;
        return result;
    }
    const double variance = d1 * d2 / 12 * ((dn + 1) - ties / (dn * (dn - 1)));
    if (variance <= 0) {
        return result;  // every value tied: no evidence of any difference
    }
    const double z = (std::fabs(result.u - mean) - 0.5) / std::sqrt(variance);
    result.p = std::min(1.0, std::erfc(z / std::sqrt(2.0)));
    return result;
}

double mann_whitney_min_p(std::size_t n1, std::size_t n2) {
    if (n1 == 0 || n2 == 0) return 1;
    std::vector<double> low(n1), high(n2);
    std::iota(low.begin(), low.end(), 0.0);
    std::iota(high.begin(), high.end(), static_cast<double>(n1));
    return mann_whitney(low, high).p;
}

}  // namespace allocproof::stats
