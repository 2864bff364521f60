// Do the 95% intervals cover the truth 95% of the time? Synthetic repetitions with a known true
// ratio, drawn from noise like a benchmark's (lognormal, CV 1% to 30%, sometimes a slow outlier),
// at the repetition counts a run uses and under the default run's adaptive schedule
// (claims/claims.json "repetitions"). The method used before, a percentile bootstrap of medians
// over 3 repetitions, is measured the same way to show why it was replaced.
//
// Every draw comes from a fixed seed, so the figures are the same on every run and machine:
// nothing here is timed.
#include "harness/stats.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

using namespace allocproof::stats;

namespace {

struct noise {
    double cv;                // of the lognormal part
    double outlier_rate = 0;  // a repetition is slowed by 1.2x to 2x this often
};

std::string describe(const noise& n) {
    return fmt::format("cv {:.0f}%{}", n.cv * 100,
                       n.outlier_rate > 0 ? fmt::format(" + {:.0f}% outliers", n.outlier_rate * 100) : "");
}

class repetitions {
public:
    explicit repetitions(std::uint64_t seed) : random_(seed) {}

    // One repetition's time of a cell whose noise-free time is `truth`.
    double draw(double truth, const noise& n) {
        const double sigma = std::sqrt(std::log(1 + n.cv * n.cv));
        double v = truth * std::exp(sigma * normal_(random_));
        if (uniform_(random_) < n.outlier_rate) v *= 1.2 + 0.8 * uniform_(random_);
        return v;
    }
    void add(std::vector<double>& to, std::size_t count, double truth, const noise& n) {
        while (to.size() < count) to.push_back(draw(truth, n));
    }
    std::size_t below(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(random_); }

private:
    std::mt19937_64 random_;
    std::normal_distribution<double> normal_;
    std::uniform_real_distribution<double> uniform_;
};

constexpr double true_ratio = 0.8;  // candidate time / baseline time

// The pairs of noise a candidate and its baseline show: alike, one quiet beside one noisy, and
// an occasional slow repetition (one in 20).
const std::vector<std::pair<noise, noise>> scenarios = {
    {{0.01}, {0.01}},
    {{0.05}, {0.05}},
    {{0.30}, {0.30}},
    {{0.02}, {0.30}},
    {{0.30}, {0.02}},
    {{0.01, 0.05}, {0.01, 0.05}},
    {{0.05, 0.05}, {0.05, 0.05}},
    {{0.30, 0.05}, {0.30, 0.05}},
    {{0.02, 0.05}, {0.30, 0.05}},
};
// Slow repetitions twice as often: the interval stays valid but turns conservative at 8-12
// repetitions (about 97.4% at 1-2% CV: the outliers' spread dominates the variance, and one value
// trimmed at each end of 8 cannot always remove two of them). Checked for undercoverage only.
const std::vector<std::pair<noise, noise>> frequent_outliers = {
    {{0.01, 0.1}, {0.01, 0.1}},
    {{0.05, 0.1}, {0.05, 0.1}},
    {{0.30, 0.1}, {0.30, 0.1}},
};

// The method used before: median ratio, percentile bootstrap with both sides resampled.
std::pair<double, double> old_bootstrap(const std::vector<double>& c, const std::vector<double>& b,
                                        repetitions& random) {
    std::vector<double> ratios, dc(c.size()), db(b.size());
    for (int r = 0; r < 2000; ++r) {
        for (auto& v : dc) v = c[random.below(c.size())];
        for (auto& v : db) v = b[random.below(b.size())];
        ratios.push_back(median(dc) / median(db));
    }
    return {quantile(ratios, 0.025), quantile(ratios, 0.975)};
}

template <class Interval>
double coverage(std::size_t n, const noise& cand, const noise& base, int trials, std::uint64_t seed,
                Interval&& interval_of) {
    repetitions random(seed);
    int covered = 0;
    for (int t = 0; t < trials; ++t) {
        std::vector<double> c, b;
        random.add(c, n, true_ratio, cand);
        random.add(b, n, 1.0, base);
        auto [low, high] = interval_of(c, b, random);
        if (low <= true_ratio && true_ratio <= high) ++covered;
    }
    return 100.0 * covered / trials;
}

struct schedule {
    double confidence, decide_confidence;
    std::vector<std::size_t> counts;
};

schedule claims_schedule() {
    std::ifstream in(ALLOCPROOF_SOURCE_DIR "/claims/claims.json");
    const auto doc = nlohmann::json::parse(in);
    const auto& r = doc.at("repetitions");
    return {r.at("confidence"), r.at("decide_confidence"), r.at("schedule").get<std::vector<std::size_t>>()};
}

// The default run's adaptive schedule on one claim row: start at counts[0]; while the row is
// undecided (its interval at decide_confidence holds one of the claim's thresholds), add
// repetitions up to the next count; then report the interval at `confidence`.
double adaptive_coverage(const schedule& plan, double truth, const std::vector<double>& thresholds,
                         const noise& noise_of_both, int trials, std::uint64_t seed, double* mean_reps) {
    repetitions random(seed);
    int covered = 0;
    double reps = 0;
    for (int t = 0; t < trials; ++t) {
        std::vector<double> c, b;
        for (std::size_t count : plan.counts) {
            random.add(c, count, truth, noise_of_both);
            random.add(b, count, 1.0, noise_of_both);
            auto decide = ratio_interval(c, b, plan.decide_confidence);
            bool decided =
                std::ranges::none_of(thresholds, [&](double x) { return decide.low <= x && x <= decide.high; });
            if (decided) break;
        }
        auto ci = ratio_interval(c, b, plan.confidence);
        if (ci.low <= truth && truth <= ci.high) ++covered;
        reps += static_cast<double>(c.size());
    }
    *mean_reps = reps / trials;
    return 100.0 * covered / trials;
}

}  // namespace

TEST(IntervalCoverage, TheOldBootstrapOfThreeRepetitionsIsNotA95PercentInterval) {
    double worst = 100, best = 0;
    for (const auto& [cand, base] : scenarios) {
        double pct =
            coverage(3, cand, base, 1500, 11, [](auto& c, auto& b, repetitions& r) { return old_bootstrap(c, b, r); });
        std::cout << fmt::format("old bootstrap, 3 reps, {} vs {}: covers {:.1f}%\n", describe(cand), describe(base),
                                 pct);
        worst = std::min(worst, pct);
        best = std::max(best, pct);
    }
    // Three values give a min-max range whatever the resampling: well short of 95% everywhere.
    EXPECT_LT(best, 93.0);
    EXPECT_LT(worst, 85.0);
}

// The breadth of a default run falls to 3 repetitions when the claims' rounds took the budget
// (run.cpp): there the 20%-trimmed interval trims nothing, and with outliers it covers a little
// more than 95% (up to 97.5% here), never less than 93%: wider intervals, not wrong ones.
TEST(IntervalCoverage, AtThreeRepetitionsTheIntervalsStillCoverAtLeast93Percent) {
    const auto plan = claims_schedule();
    for (const auto& [cand, base] : scenarios) {
        double pct = coverage(3, cand, base, 4000, 1003, [&](auto& c, auto& b, repetitions&) {
            auto ci = ratio_interval(c, b, plan.confidence);
            return std::pair{ci.low, ci.high};
        });
        std::cout << fmt::format("yuen, 3 reps, {} vs {}: covers {:.1f}%\n", describe(cand), describe(base), pct);
        EXPECT_GE(pct, 93.0) << describe(cand) << " vs " << describe(base);
        EXPECT_LE(pct, 99.5) << describe(cand) << " vs " << describe(base);
    }
}

TEST(IntervalCoverage, YuenIntervalsCover95PercentAtTheRunsRepetitionCounts) {
    const auto plan = claims_schedule();
    std::vector<std::size_t> counts = {4, 5, 6};  // the breadth of the matrix and the quick run: 4 (or 3, below)
    counts.insert(counts.end(), plan.counts.begin(), plan.counts.end());
    for (std::size_t n : counts) {
        for (const auto& [cand, base] : scenarios) {
            double pct = coverage(n, cand, base, 4000, 1000 + n, [&](auto& c, auto& b, repetitions&) {
                auto ci = ratio_interval(c, b, plan.confidence);
                return std::pair{ci.low, ci.high};
            });
            std::cout << fmt::format("yuen, {} reps, {} vs {}: covers {:.1f}%\n", n, describe(cand), describe(base),
                                     pct);
            EXPECT_GE(pct, 93.0) << n << " reps, " << describe(cand) << " vs " << describe(base);
            EXPECT_LE(pct, 97.0) << n << " reps, " << describe(cand) << " vs " << describe(base);
        }
        for (const auto& [cand, base] : frequent_outliers) {
            double pct = coverage(n, cand, base, 4000, 2000 + n, [&](auto& c, auto& b, repetitions&) {
                auto ci = ratio_interval(c, b, plan.confidence);
                return std::pair{ci.low, ci.high};
            });
            std::cout << fmt::format("yuen, {} reps, {} (both): covers {:.1f}%\n", n, describe(cand), pct);
            EXPECT_GE(pct, 93.0) << n << " reps, " << describe(cand);
        }
    }
}

TEST(IntervalCoverage, TheAdaptiveScheduleKeeps95PercentCoverage) {
    const auto plan = claims_schedule();
    // A claimed speed-up of 1.25x to 2x: on the ratio scale the thresholds are no effect (1),
    // the claim's low end (0.8) and its high end (0.5). The truth sits on a threshold (the worst
    // case: the row can never be decided and gets every repetition), between two, or far away.
    const std::vector<double> thresholds = {1.0, 0.8, 0.5};
    for (double truth : {0.8, 1.0, 0.9, 0.7, 0.3}) {
        for (const noise& n : {noise{0.02}, noise{0.05, 0.05}, noise{0.30, 0.05}}) {
            double reps = 0;
            double pct = adaptive_coverage(plan, truth, thresholds, n, 3000, 77, &reps);
            std::cout << fmt::format("adaptive, true ratio {:.2f}, {}: covers {:.1f}%, {:.1f} reps on average\n", truth,
                                     describe(n), pct, reps);
            EXPECT_GE(pct, 93.0) << "true ratio " << truth << ", " << describe(n);
            EXPECT_LE(pct, 97.0) << "true ratio " << truth << ", " << describe(n);
        }
    }
    // Why decisions use a wider interval than the verdicts: deciding on the 95% interval itself
    // stops whenever chance first pushes it off a threshold, and the truth on that threshold is
    // then missed far more often than 5% of the time.
    schedule naive = plan;
    naive.decide_confidence = naive.confidence;
    double reps = 0;
    double pct = adaptive_coverage(naive, 0.8, thresholds, noise{0.02}, 3000, 77, &reps);
    std::cout << fmt::format("adaptive, deciding at the 95% interval, truth on a threshold: covers {:.1f}%\n", pct);
    EXPECT_LT(pct, 92.0);
}
