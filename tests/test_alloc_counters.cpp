// The counting operator new/delete against known sequences. This test program links the same
// replacement operators as the cell programs (harness/counting_new.cpp).
#include "harness/alloc_counters.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <new>
#include <thread>
#include <vector>

using allocproof::alloc_counts;
using allocproof::this_thread_alloc_counts;

namespace {

alloc_counts since(const alloc_counts& before) {
    auto now = this_thread_alloc_counts();
    return {now.allocations - before.allocations, now.deallocations - before.deallocations,
            now.bytes_requested - before.bytes_requested};
}

// Keeps the optimiser from removing a new/delete pair (it may, since C++14).
void* volatile sink;

}  // namespace

TEST(AllocCounters, CountsEveryFormOfNewAndDelete) {
    auto before = this_thread_alloc_counts();
    void* a = ::operator new(24);
    sink = a;
    void* b = ::operator new[](100);
    sink = b;
    void* c = ::operator new(64, std::align_val_t{64});
    sink = c;
    void* d = ::operator new(8, std::nothrow);
    sink = d;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(c) % 64, 0u);
    auto mid = since(before);
    EXPECT_EQ(mid.allocations, 4u);
    EXPECT_EQ(mid.deallocations, 0u);
    EXPECT_EQ(mid.bytes_requested, 24u + 100u + 64u + 8u);

    ::operator delete(a, 24);
    ::operator delete[](b);
    ::operator delete(c, std::align_val_t{64});
    ::operator delete(d, std::nothrow);
    auto end = since(before);
    EXPECT_EQ(end.allocations, 4u);
    EXPECT_EQ(end.deallocations, 4u);
}

TEST(AllocCounters, DeletingNullIsNotACall) {
    auto before = this_thread_alloc_counts();
    ::operator delete(static_cast<void*>(nullptr));
    EXPECT_EQ(since(before).deallocations, 0u);
}

TEST(AllocCounters, ContainersAreCountedThroughOperatorNew) {
    auto before = this_thread_alloc_counts();
    {
        std::vector<int> v;
        v.reserve(10);  // exactly one allocation of 40 bytes
        v.push_back(1);
        sink = v.data();
    }
    auto counted = since(before);
    EXPECT_EQ(counted.allocations, 1u);
    EXPECT_EQ(counted.deallocations, 1u);
    EXPECT_EQ(counted.bytes_requested, 10 * sizeof(int));
}

TEST(AllocCounters, CountingCanBeSwitchedOff) {
    allocproof::set_alloc_counting(false);
    auto before = this_thread_alloc_counts();
    void* p = ::operator new(32);
    sink = p;
    ::operator delete(p);
    auto counted = since(before);
    allocproof::set_alloc_counting(true);
    EXPECT_EQ(counted.allocations, 0u);
    EXPECT_EQ(counted.deallocations, 0u);
}

TEST(AllocCounters, EachThreadCountsOnlyItsOwnCalls) {
    auto before = this_thread_alloc_counts();
    alloc_counts worker{};
    std::thread t([&] {
        auto start = this_thread_alloc_counts();
        for (int i = 0; i < 1000; ++i) {
            void* p = ::operator new(16);
            sink = p;
            ::operator delete(p);
        }
        auto now = this_thread_alloc_counts();
        worker = {now.allocations - start.allocations, now.deallocations - start.deallocations,
                  now.bytes_requested - start.bytes_requested};
    });
    t.join();
    EXPECT_EQ(worker.allocations, 1000u);
    EXPECT_EQ(worker.deallocations, 1000u);
    EXPECT_EQ(worker.bytes_requested, 16000u);
    // The main thread's own counters saw nothing of the worker's calls (std::thread's own state
    // is allocated here, on the main thread: one allocation at most, freed by join).
    EXPECT_LE(since(before).allocations, 1u);
}
