#include "allocproof/latency_histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

using allocproof::latency_histogram;

TEST(LatencyHistogram, SmallValuesAreExact) {
    for (std::uint64_t v = 0; v < 16; ++v) {
        EXPECT_EQ(latency_histogram::bucket_of(v), v);
        EXPECT_EQ(latency_histogram::bucket_low(v), v);
        EXPECT_EQ(latency_histogram::bucket_high(v), v);
    }
}

TEST(LatencyHistogram, BucketsTileTheNumberLine) {
    // Consecutive buckets meet with no gap and no overlap, and every value lands in the bucket
    // whose range holds it.
    for (std::size_t b = 0; b + 1 < 40 * 16; ++b) {
        EXPECT_EQ(latency_histogram::bucket_high(b) + 1, latency_histogram::bucket_low(b + 1)) << b;
    }
    for (std::uint64_t v : {16ull, 17ull, 31ull, 32ull, 33ull, 100ull, 1000ull, 123456ull, 1ull << 40}) {
        auto b = latency_histogram::bucket_of(v);
        EXPECT_LE(latency_histogram::bucket_low(b), v);
        EXPECT_GE(latency_histogram::bucket_high(b), v);
    }
    EXPECT_EQ(latency_histogram::bucket_of(16), 16u);
    EXPECT_EQ(latency_histogram::bucket_of(32), 32u);
    EXPECT_EQ(latency_histogram::bucket_low(33), 34u);  // above 32, steps of 2
}

TEST(LatencyHistogram, RelativeBucketWidthIsAtMostOneSixteenth) {
    for (std::uint64_t v = 16; v < (1u << 20); v = v * 5 / 4 + 1) {
        auto b = latency_histogram::bucket_of(v);
        double width = static_cast<double>(latency_histogram::bucket_high(b) - latency_histogram::bucket_low(b) + 1);
        EXPECT_LE(width / static_cast<double>(latency_histogram::bucket_low(b)), 1.0 / 16 + 1e-12) << v;
    }
}

TEST(LatencyHistogram, PercentilesOfKnownValues) {
    latency_histogram h;
    for (std::uint64_t v = 1; v <= 10; ++v) h.record(v);  // exact buckets
    EXPECT_EQ(h.count(), 10u);
    EXPECT_EQ(h.percentile(0.5), 5u);  // nearest rank: the 5th of 10
    EXPECT_EQ(h.percentile(0.9), 9u);
    EXPECT_EQ(h.percentile(0.99), 10u);
    EXPECT_EQ(h.percentile(1.0), 10u);
    EXPECT_EQ(h.max(), 10u);
    EXPECT_EQ(latency_histogram().percentile(0.5), 0u);
}

TEST(LatencyHistogram, PercentilesAgreeWithExactOnesWithinTheBucketWidth) {
    std::mt19937_64 random(5);
    std::lognormal_distribution<double> latency(4.0, 1.0);  // around 55 ns, long tail
    std::vector<std::uint64_t> values;
    latency_histogram h;
    for (int i = 0; i < 100000; ++i) {
        auto v = static_cast<std::uint64_t>(latency(random));
        values.push_back(v);
        h.record(v);
    }
    std::sort(values.begin(), values.end());
    for (double q : {0.5, 0.9, 0.99, 0.999}) {
        auto exact = values[static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size()))) - 1];
        auto approx = h.percentile(q);
        EXPECT_GE(approx, exact) << q;  // the bucket's upper edge
        EXPECT_LE(static_cast<double>(approx), static_cast<double>(exact) * (1 + 1.0 / 16) + 1) << q;
    }
    EXPECT_EQ(h.max(), values.back());
    EXPECT_EQ(h.percentile(1.0), values.back());
}

TEST(LatencyHistogram, MergeAddsCounts) {
    latency_histogram a, b;
    a.record(3);
    b.record(3);
    b.record(1000);
    a.merge(b);
    EXPECT_EQ(a.count(), 3u);
    EXPECT_EQ(a.max(), 1000u);
    EXPECT_EQ(a.percentile(0.5), 3u);
}
