// btree_wide — the B-tree of workloads/btree.hpp with nodes of up to 64 keys and 65 children, the
// lists still kept inline up to 8 entries and 9 children (seed 003's SmallVec<[KeyEntry; 8]>).
//
// Why this size: the seed justifies an inline capacity of 8 by "most B-tree nodes have <8
// entries", which holds only for a tree built that way (btree, where no list can spill). Real
// B-trees keep tens to hundreds of keys per node to fill a page or a cache-friendly block: a
// 4 KiB page of 16-byte entries holds about 250, Abseil's in-memory btree_map targets 256-byte
// nodes (15 such entries), LMDB and SQLite pages hold hundreds. 64 keys (1 KiB of entries) sits
// in that range. Every node but the root then holds 31 to 64 keys, so its lists live outside
// the vector, and small_vector against std shows what an inline capacity saves on a B-tree whose
// nodes are bigger than it: the first growth steps of each new list (std grows 1, 2, 4, 8, ...;
// small_vector's first spill is to 16) and nothing once a list has spilled.
// tests/test_claim_shapes.cpp checks that the lists do spill. The test scale keeps more than 64
// nodes live, so that tests/test_workload_digests.cpp's ring of 64 blocks overlaps live nodes.
#pragma once

#include "workloads/btree.hpp"

namespace allocproof::workloads {

struct btree_wide : btree_core<64, 8> {
    static constexpr workload_traits traits{
        .name = "btree_wide",
        .summary = "B-tree of 64-key nodes (as real index nodes): entry lists spill past an inline capacity of 8",
        .quick_scale = {.ops_per_thread = 70'000, .working_set = 10'000, .warmup_ops = 7'000},
        .default_scale = {.ops_per_thread = 180'000, .working_set = 20'000, .warmup_ops = 18'000},
        .test_scale = {.ops_per_thread = 4'000, .working_set = 6'000, .warmup_ops = 400},
        .families = "blocks, vector",
        .claims = "L3-1",
    };
};

}  // namespace allocproof::workloads

ALLOCPROOF_REGISTER_WORKLOAD(allocproof::workloads::btree_wide)
