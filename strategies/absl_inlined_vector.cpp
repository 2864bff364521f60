// absl_inlined_vector — the peer of small_vector: absl::InlinedVector<T, N> from Abseil
// (Debian's libabsl-dev, LTS 20220623), used through its public API only.
//
// Contract: vector family only. One thread per instance; no allocation while size() <= N; past
// N, memory from std::allocator (global operator new), doubling. Abseil rejects N = 0, so a hint
// of 0 is served with one inline element.
//
// Models the same seed text as small_vector (seed 003, SmallVec, claim L3-1).
//
// Measurement trap: InlinedVector packs "is allocated" into the low bit of its size word, so
// every size() and push_back shifts and masks; and it is the only strategy here that needs a
// compiled library (absl::inlined_vector links absl::throw_delegate), linked into the core.
#include "harness/register.hpp"
#include "allocproof/strategy.hpp"

#include <absl/container/inlined_vector.h>

#include <cstddef>

namespace allocproof::strategies {

class absl_inlined_vector {
public:
    static constexpr strategy_traits traits{
        .name = "absl_inlined_vector",
        .summary = "absl::InlinedVector<T, N> (doubling past N)",
        .origin = "Abseil LTS 20220623 (Debian libabsl-dev)",
        .provides_blocks = false,
        .provides_vector = true,
        .thread_safe = false,
    };

    template <class T, std::size_t N>
    using vector = absl::InlinedVector<T, (N == 0 ? 1 : N)>;
};

}  // namespace allocproof::strategies

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::absl_inlined_vector)
