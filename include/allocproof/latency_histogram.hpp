// A log-linear latency histogram: exact below 16 ns, then 16 linear steps per power of two, so
// every recorded value lands in a bucket at most 1/16 (6.25%) wider than itself. Small and fixed
// (one array, no allocation while recording), so recording costs a few instructions.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <vector>

namespace allocproof {

class latency_histogram {
public:
    static constexpr unsigned sub_bits = 4;
    static constexpr std::uint64_t sub_count = 1u << sub_bits;  // linear steps per power of two
    static constexpr unsigned max_exponent = 48;                // 2^48 ns: three days
    static constexpr std::size_t bucket_count = (max_exponent - sub_bits + 2) * sub_count;

    static std::size_t bucket_of(std::uint64_t ns) {
        if (ns < sub_count) {
            return static_cast<std::size_t>(ns);
        }
        unsigned exponent = std::min<unsigned>(63 - std::countl_zero(ns), max_exponent);
        std::uint64_t step = (ns >> (exponent - sub_bits)) & (sub_count - 1);
        return std::min<std::size_t>((exponent - sub_bits + 1) * sub_count + step, bucket_count - 1);
    }

    // The smallest and largest value a bucket holds.
    static std::uint64_t bucket_low(std::size_t bucket) {
        if (bucket < sub_count) {
            return bucket;
        }
        unsigned exponent = static_cast<unsigned>(bucket / sub_count) + sub_bits - 1;
        std::uint64_t step = bucket % sub_count;
        return (std::uint64_t{1} << exponent) + (step << (exponent - sub_bits));
    }
    static std::uint64_t bucket_high(std::size_t bucket) {
        if (bucket < sub_count) {
            return bucket;
        }
        unsigned exponent = static_cast<unsigned>(bucket / sub_count) + sub_bits - 1;
        return bucket_low(bucket) + (std::uint64_t{1} << (exponent - sub_bits)) - 1;
    }

    void record(std::uint64_t ns) {
        ++buckets_[bucket_of(ns)];
        max_ = std::max(max_, ns);
    }

    void merge(const latency_histogram& other) {
        for (std::size_t i = 0; i < bucket_count; ++i) {
            buckets_[i] += other.buckets_[i];
        }
        max_ = std::max(max_, other.max_);
    }

    std::uint64_t count() const {
        std::uint64_t total = 0;
        for (auto b : buckets_) {
            total += b;
        }
        return total;
    }

    std::uint64_t max() const { return max_; }

    // The value below which a fraction q of the samples lie, read as the upper edge of its
    // bucket (never above the largest value seen). 0 when empty.
    std::uint64_t percentile(double q) const { return percentile_of(buckets_, max_, q); }

    template <class Buckets>
    static std::uint64_t percentile_of(const Buckets& buckets, std::uint64_t max, double q) {
        std::uint64_t total = 0;
        for (auto b : buckets) {
            total += b;
        }
        if (total == 0) {
            return 0;
        }
        // Rank of the sample at quantile q, counting from 1 (nearest-rank definition).
        auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total));
        if (static_cast<double>(rank) < q * static_cast<double>(total)) {
            ++rank;
        }
        rank = std::clamp<std::uint64_t>(rank, 1, total);
        std::uint64_t seen = 0;
        std::size_t i = 0;
        for (auto b : buckets) {
            seen += b;
            if (seen >= rank) {
                return std::min(bucket_high(i), max);
            }
            ++i;
        }
        return max;
    }

    std::vector<std::uint64_t> buckets() const { return {buckets_.begin(), buckets_.end()}; }

private:
    std::array<std::uint64_t, bucket_count> buckets_{};
    std::uint64_t max_ = 0;
};

}  // namespace allocproof
