// The workload variants that claims L3-1 and L3-5 read have the shape their readings state
// (claims/claims.json): B-tree lists and transaction sets that spill past a small vector's
// inline capacity as often as said, and a count of bytes copied that counts the copies made.
#include "allocproof/cell.hpp"
#include "allocproof/strategy.hpp"
#include "allocproof/cell_runner.hpp"
#include "strategies/shared_buffer.hpp"
#include "strategies/small_vector.hpp"
#include "workloads/btree.hpp"
#include "workloads/btree_wide.hpp"
#include "workloads/memtable_wal.hpp"
#include "workloads/support/family_fallback.hpp"
#include "workloads/txn_sets.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>

using namespace allocproof;

namespace {

// ---- spills: small_vector with an allocator that counts what goes past the inline capacity ----
std::uint64_t spill_allocations = 0;

template <class T>
struct spill_counting_allocator {
    using value_type = T;
    spill_counting_allocator() = default;
    template <class U>
    explicit spill_counting_allocator(const spill_counting_allocator<U>&) {}
    T* allocate(std::size_t n) {
        ++spill_allocations;
        return std::allocator<T>{}.allocate(n);
    }
    void deallocate(T* p, std::size_t n) { std::allocator<T>{}.deallocate(p, n); }
    bool operator==(const spill_counting_allocator&) const = default;
};

struct spill_counted_small_vector {
    static constexpr strategy_traits traits{.name = "spill_counted_small_vector",
                                            .summary = "test",
                                            .origin = "test",
                                            .provides_blocks = false,
                                            .provides_vector = true};
    template <class T, std::size_t N>
    using vector = small_vector<T, N, spill_counting_allocator<T>>;
};

workload_params test_params(const workload_traits& traits, unsigned variant = 0) {
    workload_params params;
    params.scale = traits.test_scale;
    params.variant = variant;
    return params;
}

// The share of a worker's operations in which some vector spilled.
template <class W>
double share_of_operations_that_spill(unsigned variant = 0) {
    const workload_params params = test_params(W::traits, variant);
    typename W::template worker<spill_counted_small_vector> worker(params, 0);
    std::uint64_t spilling = 0;
    for (std::uint64_t i = 0; i < params.scale.ops_per_thread; ++i) {
        const std::uint64_t before = spill_allocations;
        worker.operation(i);
        spilling += spill_allocations != before ? 1 : 0;
    }
    worker.finish();
    return static_cast<double>(spilling) / static_cast<double>(params.scale.ops_per_thread);
}

// ---- bytes copied: a deep-copying buffer (std's) against a zero-copy one (shared_bytes's) ------
struct copying_buffers {
    static constexpr strategy_traits traits{.name = "copying_buffers",
                                            .summary = "test",
                                            .origin = "test",
                                            .provides_blocks = false,
                                            .provides_buffers = true};
    using buffer = workloads::support::copied_buffer;
};
struct sliced_buffers {
    static constexpr strategy_traits traits{.name = "sliced_buffers",
                                            .summary = "test",
                                            .origin = "test",
                                            .provides_blocks = false,
                                            .provides_buffers = true};
    using buffer = shared_bytes_buffer;
};

}  // namespace

TEST(ClaimShapes, NarrowBtreeNeverSpillsAndWideOneDoes) {
    EXPECT_EQ(share_of_operations_that_spill<workloads::btree>(), 0.0)
        << "btree's 8-key nodes fit the inline capacity: the reading of L3-1 says so";
    // 64-key nodes: a split makes a new node of 31 keys, a merge one of 63; both spill. Splits and
    // merges are rare among lookups, inserts and deletes, but not absent.
    EXPECT_GT(share_of_operations_that_spill<workloads::btree_wide>(), 0.0);
}

TEST(ClaimShapes, TpccMixSpillsTheShareItsCommentStates) {
    const auto& names = workloads::txn_sets::variant_names;
    const auto tpcc = static_cast<unsigned>(std::find(names.begin(), names.end(), "tpcc_mix") - names.begin());
    // New-Order 45% + Order-Status with 7 or more lines 4% * 9/11 + Delivery 4% + Stock-Level 4%.
    EXPECT_NEAR(share_of_operations_that_spill<workloads::txn_sets>(tpcc), 0.45 + 0.04 * 9 / 11 + 0.08, 0.04);
}

TEST(ClaimShapes, BytesCopiedCountsTheCopiesOfAPut) {
    using W = workloads::memtable_wal;
    const workload_params params = test_params(W::traits, W::reserve);
    W::worker<copying_buffers> copying(params, 0);
    W::worker<sliced_buffers> sliced(params, 0);

    // The first put is serialised into the batch: its record (header, key, value) copied once.
    split_mix random(thread_seed(params.seed, 0));
    random.below(params.scale.working_set);  // the key
    const std::uint64_t first_record = W::record_header_bytes + W::key_bytes + 8 * (2 + random.below(29));
    copying.operation(0);
    sliced.operation(0);
    EXPECT_EQ(copying.bytes_copied(), first_record);
    EXPECT_EQ(sliced.bytes_copied(), first_record);

    // Until the batch fills, both copy the same records; the put that overflows it commits the
    // batch: both copy the batch (B bytes) into a log block, and only the copying side then copies
    // each record's key and value out of it again (B less the 8-byte headers of its n records).
    std::uint64_t puts = 1;
    for (; puts < params.scale.ops_per_thread; ++puts) {
        const std::uint64_t batch = copying.bytes_copied();
        copying.operation(puts);
        sliced.operation(puts);
        const std::uint64_t extra = copying.bytes_copied() - sliced.bytes_copied();
        if (extra != 0) {
            EXPECT_EQ(extra, batch - W::record_header_bytes * puts);
            EXPECT_GT(sliced.bytes_copied() - batch, batch) << "the seal of the batch, then this put";
            break;
        }
    }
    EXPECT_LT(puts, params.scale.ops_per_thread) << "no batch was committed";
    EXPECT_EQ(copying.finish(), sliced.finish());
}

TEST(ClaimShapes, TheCellReportsBytesCopiedOfTheMeasuredPhaseOnly) {
    using W = workloads::memtable_wal;
    cell_request request;
    request.workload = "memtable_wal:reserve";
    request.strategy = "copying_buffers";
    request.params = test_params(W::traits, W::reserve);
    const cell_measurement copying = run_cell<W, copying_buffers>(request);
    const cell_measurement sliced = run_cell<W, sliced_buffers>(request);
    ASSERT_TRUE(copying.bytes_copied.has_value());
    ASSERT_TRUE(sliced.bytes_copied.has_value());
    EXPECT_GT(*copying.bytes_copied, *sliced.bytes_copied);
    // At least every put's record, appended once; the warm-up's puts are not counted, so a
    // measured phase of half the puts copies less.
    const std::uint64_t smallest_record = W::record_header_bytes + W::key_bytes + 16;
    EXPECT_GE(*sliced.bytes_copied, smallest_record * request.params.scale.ops_per_thread);
    request.params.scale.warmup_ops += request.params.scale.ops_per_thread / 2;
    request.params.scale.ops_per_thread -= request.params.scale.ops_per_thread / 2;
    const cell_measurement half = run_cell<W, sliced_buffers>(request);
    ASSERT_TRUE(half.bytes_copied.has_value());
    EXPECT_LT(*half.bytes_copied, *sliced.bytes_copied);

    // A workload that keeps no count reports none.
    request.params = test_params(workloads::btree::traits);
    const cell_measurement uncounted = run_cell<workloads::btree, spill_counted_small_vector>(request);
    EXPECT_FALSE(uncounted.bytes_copied.has_value());
}
