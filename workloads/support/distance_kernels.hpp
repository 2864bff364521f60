// Squared L2 distance between float32 vectors: a scalar loop and an AVX2+FMA loop, the latter
// compiled for AVX2 by a target attribute and chosen at run time, so the binary runs on any
// x86-64. Used by workloads/embeddings.hpp.
//
// Both kernels use unaligned loads only and never peel to an alignment boundary: the order of
// the additions is then the same wherever the vector starts, so a strategy's alignment changes
// the time of a scan, never its result (the digest stays equal across strategies).
#pragma once

#include <cstddef>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace allocproof::workloads::kernels {

inline float l2_scalar(const float* a, const float* b, std::size_t n) {
    float sum = 0.0f;
    for (std::size_t i = 0; i < n; ++i) {
        const float d = a[i] - b[i];
        sum += d * d;
    }
    return sum;
}

#if defined(__x86_64__)
// Four independent accumulators of 8 lanes (32 floats per step) hide the FMA latency; n must be a
// multiple of 32 (the embedding dimensions are: 128 .. 1536).
__attribute__((target("avx2,fma"))) inline float l2_avx2(const float* a, const float* b, std::size_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    for (std::size_t i = 0; i < n; i += 32) {
        const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        const __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
        const __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
        acc0 = _mm256_fmadd_ps(d0, d0, acc0);
        acc1 = _mm256_fmadd_ps(d1, d1, acc1);
        acc2 = _mm256_fmadd_ps(d2, d2, acc2);
        acc3 = _mm256_fmadd_ps(d3, d3, acc3);
    }
    const __m256 acc = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
    const __m128 half = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    const __m128 pair = _mm_add_ps(half, _mm_movehl_ps(half, half));
    return _mm_cvtss_f32(_mm_add_ss(pair, _mm_shuffle_ps(pair, pair, 1)));
}

inline bool have_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
#else
inline float l2_avx2(const float* a, const float* b, std::size_t n) { return l2_scalar(a, b, n); }
inline bool have_avx2() { return false; }
#endif

}  // namespace allocproof::workloads::kernels
