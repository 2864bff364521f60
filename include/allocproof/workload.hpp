// allocproof — what a workload is, and the small tools every workload shares.
//
// A workload is a struct in namespace allocproof::workloads, defined in workloads/<name>.hpp, with
//   * `static constexpr workload_traits traits` (name, summary, its quick and default scale);
//   * `template <class S> static constexpr bool accepts` — whether strategy S can serve it, read
//     from S::traits, so that senseless pairings are never built;
//   * `template <class S> class worker`, one per thread, with
//       worker(const workload_params&, unsigned thread_index)   // builds the starting state
//       void operation(std::uint64_t index)                     // one unit of measured work
//       std::uint64_t finish()                                  // tears down, returns the digest
//       std::size_t live_bytes_peak() const                     // most bytes it held at once
//       std::size_t live_bytes() const                          // optional: bytes it holds now,
//                                                               // sampled for the memory timeline
// and ends with ALLOCPROOF_REGISTER_WORKLOAD(name). The build finds the file by itself.
//
// Threads that must meet (one frees what another allocated, a producer hands items to a consumer)
// share state through an optional `template <class S> class shared`, built once per cell from
// `shared(const workload_params&)` before the workers; the worker then takes it as a third
// constructor argument, `worker(const workload_params&, unsigned thread_index, shared<S>&)`.
// Everything a digest depends on must then be ordered by the workload itself (a fixed hand-off
// schedule, a sum rather than a fold of what crossed threads), never by thread timing.
//
// Every strategy must do the same logical work for the same seed and fold what it computed into
// the same digest: the harness compares digests across strategies and allocators, so a strategy
// that is fast because it is wrong (overlapping blocks, lost writes) is caught.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace allocproof {

struct workload_scale {
    std::uint64_t ops_per_thread = 0;  // measured operations, per thread (fixed work per thread)
    std::uint64_t working_set = 0;     // the workload's own size knob (live objects, keys, ...)
    std::uint64_t warmup_ops = 0;      // operations run before the measured phase, per thread
};

struct workload_traits {
    std::string_view name;
    std::string_view summary;
    workload_scale quick_scale;    // --quick: a few hundred milliseconds per cell at one thread
    workload_scale default_scale;  // the default matrix
    workload_scale test_scale;     // the unit tests: milliseconds, yet every code path taken
    std::string_view families;     // strategy families it exercises: "blocks", "vector", ...
    std::string_view claims;       // ids from CLAIMS.md it gives evidence for, space-separated
    // Variants of the workload's own technique (reserve vs growth, interned vs plain strings,
    // aligned vs misaligned storage, ...): each runs as a workload of its own, named
    // "<name>:<variant>", and the worker reads workload_params::variant, an index into this list.
    // Empty: the workload has a single form, named "<name>".
    std::span<const std::string_view> variants = {};
};

struct workload_params {
    workload_scale scale;
    std::uint64_t seed = 42;
    unsigned threads = 1;
    unsigned variant = 0;  // index into workload_traits::variants
};

template <class... Ts>
struct type_list {};

// ---- deterministic randomness -------------------------------------------------------------
// splitmix64: tiny, fast, and identical on every platform, so a seed means the same operation
// sequence everywhere. (std::mt19937 would do too, but its distributions are not portable.)
class split_mix {
public:
    explicit split_mix(std::uint64_t seed) : state_(seed) {}

    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }

    // Uniform in [0, bound) by multiply-shift (Lemire); the tiny bias is the same for everyone.
    std::uint64_t below(std::uint64_t bound) {
        return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
    }

private:
    std::uint64_t state_;
};

inline std::uint64_t thread_seed(std::uint64_t seed, unsigned thread_index) {
    return split_mix(seed ^ (0xD1B54A32D192ED03ULL * (thread_index + 1))).next();
}

// ---- digests ------------------------------------------------------------------------------
// Order-sensitive fold: the same values in the same order give the same digest.
inline std::uint64_t digest_fold(std::uint64_t digest, std::uint64_t value) {
    std::uint64_t z = digest ^ (value + 0x9E3779B97F4A7C15ULL + (digest << 6) + (digest >> 2));
    z = (z ^ (z >> 33)) * 0xFF51AFD7ED558CCDULL;
    return z ^ (z >> 33);
}

}  // namespace allocproof
