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

#include "allocproof/strategy.hpp"

#include <concepts>
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

// ---- the workload contract as concepts ----------------------------------------------------------
// One concept per requirement, as for strategies (allocproof/strategy.hpp), so that
// check_workload_contract and check_worker_contract can say which one a workload misses.
namespace contract {

template <class W>
concept has_workload_traits = requires {
    { W::traits } -> std::convertible_to<workload_traits>;
};

template <template <class> class>
struct class_template_of_one {};
template <class W>
concept has_worker_template = requires {
    typename class_template_of_one<W::template worker>;
};

// `accepts` is asked about a plain blocks strategy: reading a strategy's traits is all it may do.
struct blocks_probe {
    static constexpr strategy_traits traits{.name = "contract_probe", .summary = "", .origin = ""};
    explicit blocks_probe(const block_spec&);
    void* allocate(std::size_t bytes);
    void deallocate(void* block, std::size_t bytes);
};
template <class W>
concept has_accepts = requires {
    { W::template accepts<blocks_probe> } -> std::convertible_to<bool>;
};

template <class W, class S>
using worker_of = typename W::template worker<S>;
template <class W, class S>
concept has_shared_state = requires {
    typename W::template shared<S>;
};
template <class W, class S>
concept worker_constructible = std::constructible_from < worker_of<W, S>,
const workload_params&,
    unsigned > ||
        (has_shared_state<W, S> &&
         std::constructible_from<worker_of<W, S>, const workload_params&, unsigned, typename W::template shared<S>&>);
template <class W, class S>
concept worker_operation = requires(worker_of<W, S>& worker, std::uint64_t index) {
    worker.operation(index);
};
template <class W, class S>
concept worker_finish = requires(worker_of<W, S>& worker) {
    { worker.finish() } -> std::convertible_to<std::uint64_t>;
};
template <class W, class S>
concept worker_live_bytes_peak = requires(const worker_of<W, S>& worker) {
    { worker.live_bytes_peak() } -> std::convertible_to<std::size_t>;
};

}  // namespace contract

template <class W>
concept workload_definition =
    contract::has_workload_traits<W> && contract::has_worker_template<W> && contract::has_accepts<W>;

// What a cell needs of W's worker on strategy S; checked for each pair a strategy registers.
template <class W, class S>
concept workload_worker = contract::worker_constructible<W, S> && contract::worker_operation<W, S> &&
    contract::worker_finish<W, S> && contract::worker_live_bytes_peak<W, S>;

// Where a workload registers (ALLOCPROOF_REGISTER_WORKLOAD): one static_assert per requirement,
// so a workload that misses one gets a single error naming it, from the workload's own file.
template <class W>
consteval bool check_workload_contract() {
    static_assert(contract::has_workload_traits<W>,
                  "allocproof workload: missing `static constexpr allocproof::workload_traits traits` "
                  "(its name, summary and scales)");
    static_assert(contract::has_worker_template<W>, "allocproof workload: missing `template <class S> class worker`");
    static_assert(contract::has_accepts<W>,
                  "allocproof workload: missing `template <class S> static constexpr bool accepts` "
                  "(whether strategy S can serve it, read from S::traits)");
    return workload_definition<W>;
}

// Where a strategy's cells are made (register_strategy_cells), for each workload W that accepts S.
template <class W, class S>
consteval bool check_worker_contract() {
    static_assert(contract::worker_constructible<W, S>,
                  "allocproof workload: worker<S> misses the constructor "
                  "`worker(const workload_params&, unsigned thread_index)` (with `shared<S>&` third, if it has one)");
    static_assert(contract::worker_operation<W, S>,
                  "allocproof workload: worker<S> misses `void operation(std::uint64_t index)`");
    static_assert(contract::worker_finish<W, S>, "allocproof workload: worker<S> misses `std::uint64_t finish()`");
    static_assert(contract::worker_live_bytes_peak<W, S>,
                  "allocproof workload: worker<S> misses `std::size_t live_bytes_peak() const`");
    return workload_worker<W, S>;
}

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
