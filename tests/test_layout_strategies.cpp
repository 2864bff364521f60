// The layout strategies: small vectors (ours against std::vector, and the two peers through the
// same random sequences), typed object pools (single-thread and shared), and shared byte
// buffers with zero-copy slices.
#include "allocproof/registry.hpp"
#include "strategies/object_pool.hpp"
#include "strategies/shared_buffer.hpp"
#include "strategies/small_vector.hpp"

#include <absl/container/inlined_vector.h>
#include <boost/container/small_vector.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using allocproof::small_vector;

namespace {

// ==== elements that keep count of their own lives ===============================================

// Counts constructions and destructions, owns heap memory (so ASan sees a leak or a double
// destruction), and carries a tag that a destroyed object no longer has (so a read of a dead
// element is counted as an error).
class counted_element {
public:
    static inline long constructed = 0;
    static inline long destroyed = 0;
    static inline long errors = 0;  // operations that read a destroyed or never-built object
    static long live() { return constructed - destroyed; }
    static void reset_counts() { constructed = destroyed = errors = 0; }

    counted_element() : counted_element(0) {}
    counted_element(int key) : key_(key), payload_(std::make_unique<std::string>(40, 'x')) { ++constructed; }
    counted_element(const counted_element& other)
        : key_(other.read()), payload_(std::make_unique<std::string>(*other.payload_)) {
        ++constructed;
    }
    counted_element(counted_element&& other) noexcept : key_(other.read()), payload_(std::move(other.payload_)) {
        ++constructed;
    }
    counted_element& operator=(const counted_element& other) {
        check();
        key_ = other.read();
        payload_ = std::make_unique<std::string>(*other.payload_);
        return *this;
    }
    counted_element& operator=(counted_element&& other) noexcept {
        check();
        key_ = other.read();
        payload_ = std::move(other.payload_);
        return *this;
    }
    ~counted_element() {
        check();
        tag_ = 0;
        ++destroyed;
    }

    int key() const { return read(); }

private:
    static constexpr std::uint32_t alive = 0xA11CE5ED;
    void check() const {
        if (tag_ != alive) ++errors;
    }
    int read() const {
        check();
        return key_;
    }

    std::uint32_t tag_ = alive;
    int key_;
    std::unique_ptr<std::string> payload_;
};

int key_of(int value) { return value; }
int key_of(const counted_element& value) { return value.key(); }

// A standard allocator that counts what it is asked for.
struct allocation_counts {
    long allocations = 0;
    long deallocations = 0;
    long bytes_live = 0;
};

template <class T>
struct counting_allocator {
    using value_type = T;
    allocation_counts* counts;

    explicit counting_allocator(allocation_counts* c) : counts(c) {}
    template <class U>
    counting_allocator(const counting_allocator<U>& other) : counts(other.counts) {}

    T* allocate(std::size_t n) {
        ++counts->allocations;
        counts->bytes_live += static_cast<long>(n * sizeof(T));
        return std::allocator<T>().allocate(n);
    }
    void deallocate(T* p, std::size_t n) {
        ++counts->deallocations;
        counts->bytes_live -= static_cast<long>(n * sizeof(T));
        std::allocator<T>().deallocate(p, n);
    }
    template <class U>
    bool operator==(const counting_allocator<U>& other) const {
        return counts == other.counts;
    }
};

// ==== small vectors against std::vector, under random operation sequences ==========================

template <class V>
void expect_same(const V& v, const std::vector<int>& reference, const std::string& step) {
    ASSERT_EQ(v.size(), reference.size()) << step;
    ASSERT_GE(v.capacity(), v.size()) << step;
    for (std::size_t i = 0; i < reference.size(); ++i) {
        ASSERT_EQ(key_of(v[i]), reference[i]) << step << " at " << i;
    }
    std::size_t walked = 0;
    for (const auto& element : v) {
        ASSERT_EQ(key_of(element), reference[walked]) << step << " iterating at " << walked;
        ++walked;
    }
    ASSERT_EQ(walked, reference.size()) << step;
}

template <class T, std::size_t N>
using boost_small = boost::container::small_vector<T, N>;
template <class T, std::size_t N>
using absl_inlined = absl::InlinedVector<T, N>;

// Whether v.push_back(v[i]) and v.resize(n, v[i]) work when they reallocate, as std::vector
// guarantees. Boost.Container 1.74 moves the old elements out first and then copies the
// moved-from one (see BoostSmallVector.CopiesAMovedFromElementWhenGrowingFromItsOwnElement).
template <class V>
inline constexpr bool self_reference_safe = true;
template <class T, std::size_t N>
inline constexpr bool self_reference_safe<boost_small<T, N>> = false;

template <class V>
typename V::value_type argument_from(V& v, std::size_t i) {
    return v[i];
}

// One random operation on both containers. Arguments taken from the vector itself exercise the
// aliasing cases (push_back(v[i]) when full, insert(pos, v[i]), resize(n, v[i])); for a vector
// that does not support them, the argument is copied out first.
template <class V>
std::string random_step(V& v, std::vector<int>& reference, std::mt19937& random, int& next_key) {
    using E = typename V::value_type;
    auto below = [&](std::size_t n) { return static_cast<std::size_t>(random() % n); };
    const std::size_t n = reference.size();
    const int key = next_key++;
    switch (below(n > 24 ? 17 : 14)) {  // long vectors shrink more often
        case 0:
            v.push_back(E(key));
            reference.push_back(key);
            return "push_back";
        case 1:
            v.emplace_back(key);
            reference.push_back(key);
            return "emplace_back";
        case 2:
            if (n == 0) return "nothing";
            {
                const std::size_t i = below(n);
                if constexpr (self_reference_safe<V>) {
                    v.push_back(v[i]);  // aliases an element: must be read before any growth
                } else {
                    v.push_back(argument_from(v, i));
                }
                reference.push_back(reference[i]);
            }
            return "push_back of own element";
        case 3: {
            const std::size_t at = below(n + 1);
            auto it = v.insert(v.begin() + static_cast<std::ptrdiff_t>(at), E(key));
            reference.insert(reference.begin() + static_cast<std::ptrdiff_t>(at), key);
            if (key_of(*it) != key) return "insert returned a wrong iterator";
            return "insert";
        }
        case 4:
            if (n == 0) return "nothing";
            {
                const std::size_t at = below(n + 1), from = below(n);
                if constexpr (self_reference_safe<V>) {
                    v.insert(v.begin() + static_cast<std::ptrdiff_t>(at), v[from]);
                } else {
                    v.insert(v.begin() + static_cast<std::ptrdiff_t>(at), argument_from(v, from));
                }
                reference.insert(reference.begin() + static_cast<std::ptrdiff_t>(at), reference[from]);
            }
            return "insert of own element";
        case 5:
        case 14:
            if (n == 0) return "nothing";
            {
                const std::size_t at = below(n);
                v.erase(v.begin() + static_cast<std::ptrdiff_t>(at));
                reference.erase(reference.begin() + static_cast<std::ptrdiff_t>(at));
            }
            return "erase";
        case 6:
        case 15:
            if (n == 0) return "nothing";
            v.pop_back();
            reference.pop_back();
            return "pop_back";
        case 7: {
            const std::size_t size = below(40);
            v.resize(size);
            reference.resize(size, key_of(E()));
            return "resize";
        }
        case 8:
            if (n == 0) return "nothing";
            {
                const std::size_t size = below(40), from = below(n);
                if constexpr (self_reference_safe<V>) {
                    v.resize(size, v[from]);
                } else {
                    v.resize(size, argument_from(v, from));
                }
                reference.resize(size, reference[from]);
            }
            return "resize with own element";
        case 9:
            v.reserve(below(40));
            return "reserve";
        case 10:
            if (n == 0) return "nothing";
            {
                const std::size_t i = below(n);
                v[i] = E(key);
                reference[i] = key;
            }
            return "assign element";
        case 11: {
            V copy(v);  // copy construction
            expect_same(copy, reference, "copy");
            V other;
            other.push_back(E(-1));
            other = v;  // copy assignment over a non-empty vector
            expect_same(other, reference, "copy-assigned");
            V moved(std::move(copy));  // move construction
            expect_same(moved, reference, "move-constructed");
            v = std::move(moved);  // move assignment
            const V& same = v;
            v = same;  // self-assignment
            return "copy, move, self-assign";
        }
        case 12:
            if (below(4) != 0) return "nothing";
            v.clear();
            reference.clear();
            return "clear";
        case 13:
        case 16:
            if (n < 2) return "nothing";
            {
                const std::size_t first = below(n), last = first + below(n - first + 1);
                v.erase(v.begin() + static_cast<std::ptrdiff_t>(first), v.begin() + static_cast<std::ptrdiff_t>(last));
                reference.erase(reference.begin() + static_cast<std::ptrdiff_t>(first),
                                reference.begin() + static_cast<std::ptrdiff_t>(last));
            }
            return "erase range";
    }
    return "nothing";
}

template <class V>
class VectorAgainstStd : public ::testing::Test {};

using vector_types =
    ::testing::Types<small_vector<counted_element, 0>, small_vector<counted_element, 1>,
                     small_vector<counted_element, 4>, small_vector<counted_element, 8>, small_vector<int, 8>,
                     small_vector<int, 3>, boost_small<counted_element, 4>, absl_inlined<counted_element, 4>>;
TYPED_TEST_SUITE(VectorAgainstStd, vector_types);

TYPED_TEST(VectorAgainstStd, SameContentsAfterEveryStepOfRandomSequences) {
    counted_element::reset_counts();
    for (unsigned seed = 1; seed <= 20; ++seed) {
        std::mt19937 random(seed);
        int next_key = 1;
        TypeParam v;
        std::vector<int> reference;
        for (int step = 0; step < 400; ++step) {
            const std::string what = random_step(v, reference, random, next_key);
            const std::string where = "seed " + std::to_string(seed) + " step " + std::to_string(step) + " " + what;
            ASSERT_NE(what, "insert returned a wrong iterator") << where;
            expect_same(v, reference, where);
            if constexpr (std::is_same_v<typename TypeParam::value_type, counted_element>) {
                ASSERT_EQ(counted_element::live(), static_cast<long>(v.size())) << where << ": elements leaked or lost";
            }
        }
    }
    EXPECT_EQ(counted_element::live(), 0) << "elements not destroyed";
    EXPECT_EQ(counted_element::errors, 0) << "an operation read a destroyed element";
}

// Pins a deviation of the peer from std::vector (Boost 1.74), the reason the random sequences
// above copy arguments out for it. If a newer Boost fixes it, this fails: drop the exception.
TEST(BoostSmallVector, CopiesAMovedFromElementWhenGrowingFromItsOwnElement) {
    boost_small<std::string, 2> v;
    v.push_back(std::string(40, 'a'));
    v.push_back(std::string(40, 'b'));
    v.push_back(v[0]);  // full: reallocates, and reads v[0] after moving it
    EXPECT_NE(v[2], std::string(40, 'a'));
    small_vector<std::string, 2> ours;
    ours.push_back(std::string(40, 'a'));
    ours.push_back(std::string(40, 'b'));
    ours.push_back(ours[0]);
    EXPECT_EQ(ours[2], std::string(40, 'a'));
}

// ==== small_vector: allocation, spill, lifetimes ==================================================

TEST(SmallVector, NoAllocationUpToNThenSpills) {
    allocation_counts counts;
    using vec = small_vector<std::uint64_t, 8, counting_allocator<std::uint64_t>>;
    {
        vec v{counting_allocator<std::uint64_t>(&counts)};
        v.reserve(8);
        for (std::uint64_t i = 0; i < 8; ++i) v.push_back(i);
        EXPECT_EQ(counts.allocations, 0);
        EXPECT_TRUE(v.is_inline());
        EXPECT_EQ(v.capacity(), 8u);
        const std::uint64_t* inline_data = v.data();

        {
            vec copy(v);  // an inline copy allocates nothing either
            vec moved(std::move(copy));
            vec assigned{counting_allocator<std::uint64_t>(&counts)};
            assigned = moved;
            EXPECT_EQ(counts.allocations, 0);
        }

        v.push_back(8);  // the ninth spills, once
        EXPECT_EQ(counts.allocations, 1);
        EXPECT_FALSE(v.is_inline());
        EXPECT_NE(v.data(), inline_data);
        EXPECT_EQ(v.capacity(), 16u);
        for (std::uint64_t i = 9; i < 16; ++i) v.push_back(i);
        EXPECT_EQ(counts.allocations, 1);
        v.push_back(16);  // doubling
        EXPECT_EQ(counts.allocations, 2);
        EXPECT_EQ(counts.deallocations, 1);
        for (std::uint64_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], i);

        v.clear();  // keeps its capacity, as std::vector does
        EXPECT_EQ(v.capacity(), 32u);
        EXPECT_FALSE(v.is_inline());

        vec stolen(std::move(v));  // a spilled buffer changes hands without allocating
        EXPECT_EQ(counts.allocations, 2);
        EXPECT_TRUE(v.is_inline());
        EXPECT_TRUE(v.empty());
        EXPECT_EQ(stolen.capacity(), 32u);
    }
    EXPECT_EQ(counts.deallocations, counts.allocations);
    EXPECT_EQ(counts.bytes_live, 0);
}

TEST(SmallVector, NoAllocationUpToNForNonTrivialElements) {
    allocation_counts counts;
    counted_element::reset_counts();
    {
        small_vector<counted_element, 4, counting_allocator<counted_element>> v{
            counting_allocator<counted_element>(&counts)};
        for (int i = 0; i < 4; ++i) v.emplace_back(i);
        EXPECT_EQ(counts.allocations, 0);
        v.insert(v.begin(), counted_element(-1));  // full: the fifth spills
        EXPECT_EQ(counts.allocations, 1);
        ASSERT_EQ(v.size(), 5u);
        EXPECT_EQ(v[0].key(), -1);
        EXPECT_EQ(v[4].key(), 3);
        EXPECT_EQ(counted_element::live(), 5);
    }
    EXPECT_EQ(counts.deallocations, 1);
    EXPECT_EQ(counted_element::live(), 0);
    EXPECT_EQ(counted_element::errors, 0);
}

TEST(SmallVector, ExactConstructionsAndDestructions) {
    counted_element::reset_counts();
    {
        small_vector<counted_element, 2> v;
        v.emplace_back(1);
        v.emplace_back(2);
        EXPECT_EQ(counted_element::constructed, 2);  // built in place, no temporaries
        v.emplace_back(3);                           // grows: 1 new + 2 moved, 2 old destroyed
        EXPECT_EQ(counted_element::constructed, 5);
        EXPECT_EQ(counted_element::destroyed, 2);
        v.pop_back();
        EXPECT_EQ(counted_element::destroyed, 3);
        v.resize(4);  // two value-initialised
        EXPECT_EQ(counted_element::live(), 4);
        v.resize(1);
        EXPECT_EQ(counted_element::live(), 1);
    }
    EXPECT_EQ(counted_element::live(), 0);
    EXPECT_EQ(counted_element::errors, 0);
}

TEST(SmallVector, MoveOnlyElements) {
    small_vector<std::unique_ptr<int>, 2> v;
    for (int i = 0; i < 5; ++i) v.push_back(std::make_unique<int>(i));
    v.insert(v.begin() + 1, std::make_unique<int>(10));
    v.erase(v.begin());
    small_vector<std::unique_ptr<int>, 2> w(std::move(v));
    ASSERT_EQ(w.size(), 5u);
    EXPECT_EQ(*w[0], 10);
    EXPECT_EQ(*w[4], 4);
    EXPECT_TRUE(v.empty());
}

// A copy that can be made to throw, and no move: growth must copy, and roll back on failure.
struct fragile {
    static inline int copies_left = 1 << 30;
    static inline long live = 0;
    int key;
    explicit fragile(int k) : key(k) { ++live; }
    fragile(const fragile& other) : key(other.key) {
        if (copies_left-- == 0) throw std::runtime_error("copy failed");
        ++live;
    }
    fragile& operator=(const fragile&) = default;
    ~fragile() { --live; }
};

TEST(SmallVector, GrowthThatThrowsLeavesTheVectorAsItWas) {
    fragile::live = 0;
    {
        small_vector<fragile, 4> v;
        for (int i = 0; i < 4; ++i) v.emplace_back(i);
        fragile::copies_left = 2;  // the third copy during relocation throws
        EXPECT_THROW(v.emplace_back(4), std::runtime_error);
        fragile::copies_left = 1 << 30;
        ASSERT_EQ(v.size(), 4u);
        EXPECT_TRUE(v.is_inline());
        for (int i = 0; i < 4; ++i) EXPECT_EQ(v[i].key, i);
        EXPECT_EQ(fragile::live, 4);
        v.emplace_back(4);
        EXPECT_EQ(v.size(), 5u);
    }
    EXPECT_EQ(fragile::live, 0);
}

// ==== object pools ==============================================================================

struct pooled_item {
    static inline std::atomic<long> constructed{0};
    static inline std::atomic<long> destroyed{0};
    static inline std::atomic<long> resets{0};
    static long live() { return constructed.load() - destroyed.load(); }
    static void reset_counts() {
        constructed = 0;
        destroyed = 0;
        resets = 0;
    }

    std::uint64_t owner = 0;
    std::uint64_t value = 0;
    std::array<std::uint64_t, 6> padding{};

    pooled_item() { ++constructed; }
    pooled_item(const pooled_item&) = delete;
    ~pooled_item() { ++destroyed; }
    void reset() {
        ++resets;
        owner = 0;
        value = 0;
    }
};

struct no_reset_item {
    int value = 0;
};

template <class Pool>
class ObjectPools : public ::testing::Test {};

using pool_types = ::testing::Types<allocproof::object_pool<pooled_item>, allocproof::shared_object_pool<pooled_item>>;
TYPED_TEST_SUITE(ObjectPools, pool_types);

TYPED_TEST(ObjectPools, StatisticsAreExactOnAKnownSequence) {
    pooled_item::reset_counts();
    {
        TypeParam pool(2);
        pooled_item* a = pool.acquire();
        pooled_item* b = pool.acquire();
        pooled_item* c = pool.acquire();
        auto s = pool.stats();
        EXPECT_EQ(s.acquires, 3u);
        EXPECT_EQ(s.creations, 3u);
        EXPECT_EQ(s.reuses, 0u);
        EXPECT_EQ(s.pooled, 0u);

        pool.release(a);
        pool.release(b);
        pool.release(c);  // the pool holds 2: the third is deleted
        s = pool.stats();
        EXPECT_EQ(s.discards, 1u);
        EXPECT_EQ(s.pooled, 2u);
        EXPECT_EQ(s.peak_pooled, 2u);
        EXPECT_EQ(pooled_item::live(), 2);
        EXPECT_EQ(pooled_item::resets.load(), 3);  // reset runs on every release, before the limit check

        pooled_item* d = pool.acquire();
        pooled_item* e = pool.acquire();
        pooled_item* f = pool.acquire();
        s = pool.stats();
        EXPECT_EQ(s.acquires, 6u);
        EXPECT_EQ(s.reuses, 2u);
        EXPECT_EQ(s.creations, 4u);
        EXPECT_EQ(s.pooled, 0u);
        EXPECT_DOUBLE_EQ(s.reuse_rate(), 2.0 / 6.0);
        EXPECT_EQ(pooled_item::constructed.load(), 4);
        EXPECT_TRUE(d == a || d == b);  // the two kept, most recent first
        EXPECT_TRUE(e == a || e == b);
        EXPECT_NE(d, e);
        pool.release(d);
        pool.release(e);
        pool.release(f);
        EXPECT_EQ(pool.stats().discards, 2u);
    }
    EXPECT_EQ(pooled_item::live(), 0) << "the pool must delete what it holds";
}

TYPED_TEST(ObjectPools, ReleaseResetsAndAcquireReturnsTheResetObject) {
    pooled_item::reset_counts();
    TypeParam pool(8);
    pooled_item* item = pool.acquire();
    EXPECT_EQ(pooled_item::resets.load(), 0);  // a new object is not reset
    item->value = 42;
    item->owner = 7;
    pool.release(item);
    EXPECT_EQ(pooled_item::resets.load(), 1);
    pooled_item* again = pool.acquire();
    EXPECT_EQ(again, item);  // last in, first out
    EXPECT_EQ(again->value, 0u);
    EXPECT_EQ(again->owner, 0u);
    pool.release(again);
}

TYPED_TEST(ObjectPools, MaxPooledIsHonoured) {
    pooled_item::reset_counts();
    {
        TypeParam pool(5);
        std::vector<pooled_item*> items;
        for (int i = 0; i < 10; ++i) items.push_back(pool.acquire());
        for (pooled_item* item : items) pool.release(item);
        auto s = pool.stats();
        EXPECT_EQ(s.pooled, 5u);
        EXPECT_EQ(s.peak_pooled, 5u);
        EXPECT_EQ(s.discards, 5u);
        EXPECT_EQ(pooled_item::live(), 5);
    }
    EXPECT_EQ(pooled_item::live(), 0);
    {
        TypeParam none(0);  // keeps nothing: every release deletes
        none.release(none.acquire());
        none.release(none.acquire());
        EXPECT_EQ(none.stats().discards, 2u);
        EXPECT_EQ(none.stats().reuses, 0u);
        EXPECT_EQ(pooled_item::live(), 0);
    }
}

TYPED_TEST(ObjectPools, GuardReturnsItsObject) {
    pooled_item::reset_counts();
    TypeParam pool(4);
    pooled_item* seen = nullptr;
    {
        auto guard = pool.acquire_guard();
        seen = guard.get();
        guard->value = 5;
        auto moved = std::move(guard);  // one owner: returned once
        EXPECT_FALSE(guard);
        EXPECT_EQ(moved.get(), seen);
    }
    auto s = pool.stats();
    EXPECT_EQ(s.pooled, 1u);
    EXPECT_EQ(pooled_item::resets.load(), 1);
    {
        auto guard = pool.acquire_guard();
        EXPECT_EQ(guard.get(), seen);
        EXPECT_EQ(guard->value, 0u);
        guard.give_back();
        EXPECT_FALSE(guard);
        EXPECT_EQ(pool.stats().pooled, 1u);
    }
    pooled_item* kept = nullptr;
    {
        auto guard = pool.acquire_guard();
        kept = guard.detach();  // the caller keeps it: nothing returns at scope exit
    }
    EXPECT_EQ(pool.stats().pooled, 0u);
    pool.release(kept);
    EXPECT_EQ(pool.stats().pooled, 1u);
}

TEST(ObjectPool, TypesWithoutResetAreReusedAsReleased) {
    allocproof::object_pool<no_reset_item> pool(1);
    no_reset_item* item = pool.acquire();
    EXPECT_EQ(item->value, 0);  // new objects are value-initialised
    item->value = 3;
    pool.release(item);
    EXPECT_EQ(pool.acquire(), item);
    EXPECT_EQ(item->value, 3);
    pool.release(item);
}

// Four threads on one pool, objects handed between threads: every object is held by one thread at
// a time, and the counters add up. Run under ThreadSanitizer too.
TEST(SharedObjectPool, FourThreadsShareOnePool) {
    pooled_item::reset_counts();
    constexpr int threads = 4;
    constexpr int rounds = 3000;
    allocproof::shared_object_pool<pooled_item> pool(16);
    std::mutex handoff_lock;
    std::deque<pooled_item*> handoff;  // released by another thread than their acquirer
    std::atomic<long> overlaps{0};
    std::atomic<long> acquired{0};
    auto work = [&](std::uint64_t id) {
        std::mt19937 random(static_cast<unsigned>(id));
        std::vector<pooled_item*> held;
        for (int round = 0; round < rounds; ++round) {
            const int batch = 1 + static_cast<int>(random() % 6);
            for (int i = 0; i < batch; ++i) {
                pooled_item* item = pool.acquire();
                if (item->owner != 0) ++overlaps;  // not reset, or held by someone else
                item->owner = id;
                item->value = static_cast<std::uint64_t>(round);
                held.push_back(item);
            }
            acquired += batch;
            for (pooled_item* item : held) {
                if (item->owner != id) ++overlaps;
            }
            for (pooled_item* item : held) {
                item->owner = 0;
                if (random() % 4 == 0) {
                    std::lock_guard lock(handoff_lock);
                    handoff.push_back(item);
                } else {
                    pool.release(item);
                }
            }
            held.clear();
            pooled_item* foreign = nullptr;
            {
                std::lock_guard lock(handoff_lock);
                if (!handoff.empty()) {
                    foreign = handoff.front();
                    handoff.pop_front();
                }
            }
            if (foreign != nullptr) pool.release(foreign);
        }
    };
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) workers.emplace_back(work, static_cast<std::uint64_t>(t + 1));
    for (auto& w : workers) w.join();
    for (pooled_item* item : handoff) pool.release(item);

    EXPECT_EQ(overlaps.load(), 0);
    const auto s = pool.stats();
    EXPECT_EQ(s.acquires, static_cast<std::uint64_t>(acquired.load()));
    EXPECT_EQ(s.reuses + s.creations, s.acquires);
    EXPECT_EQ(s.creations, s.pooled + s.discards);  // every object made is now kept or deleted
    EXPECT_LE(s.pooled, 16u);
    EXPECT_EQ(pooled_item::live(), static_cast<long>(s.pooled));
    EXPECT_GT(s.reuses, 0u);
}

#if defined(__SANITIZE_ADDRESS__)
// Pooled objects are poisoned: touching one after its release is caught like a use after free.
TEST(ObjectPool, UseAfterReleaseIsCaughtByAddressSanitizer) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    allocproof::object_pool<pooled_item> pool(4);
    pooled_item* item = pool.acquire();
    pool.release(item);
    volatile std::uint64_t* value = &item->value;
    EXPECT_DEATH(*value = 1, "AddressSanitizer");
}
#endif

// ==== shared buffers ============================================================================

template <class B>
class SharedBuffers : public ::testing::Test {};

using buffer_types = ::testing::Types<allocproof::shared_bytes_buffer, allocproof::intrusive_refcount_buffer,
                                      allocproof::make_shared_buffer>;
TYPED_TEST_SUITE(SharedBuffers, buffer_types);

std::vector<std::byte> random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 random(seed);
    std::vector<std::byte> bytes(n);
    for (auto& b : bytes) b = static_cast<std::byte>(random());
    return bytes;
}

bool same_bytes(const std::byte* data, const std::byte* expected, std::size_t n) {
    return std::memcmp(data, expected, n) == 0;
}

TYPED_TEST(SharedBuffers, CopyOfCopiesOnce) {
    auto source = random_bytes(1000, 1);
    const auto original = source;
    TypeParam buffer = TypeParam::copy_of(source.data(), source.size());
    ASSERT_EQ(buffer.size(), 1000u);
    EXPECT_NE(buffer.data(), source.data());
    EXPECT_TRUE(same_bytes(buffer.data(), original.data(), 1000));
    std::fill(source.begin(), source.end(), std::byte{0});  // the buffer owns its copy
    EXPECT_TRUE(same_bytes(buffer.data(), original.data(), 1000));
    EXPECT_EQ(buffer.use_count(), 1u);
}

TYPED_TEST(SharedBuffers, SlicesSeeTheRightBytesWithoutACopy) {
    const auto source = random_bytes(4096, 2);
    TypeParam whole = TypeParam::copy_of(source.data(), source.size());
    std::mt19937 random(3);
    for (int i = 0; i < 200; ++i) {
        const std::size_t offset = random() % 4097;
        const std::size_t size = random() % (4097 - offset);
        TypeParam part = whole.slice(offset, size);
        ASSERT_EQ(part.size(), size);
        ASSERT_EQ(part.data(), whole.data() + offset) << "a slice must point into its parent";
        ASSERT_TRUE(same_bytes(part.data(), source.data() + offset, size));
        if (size > 0) {
            const std::size_t inner = random() % size;
            TypeParam sub = part.slice(inner, size - inner);  // a slice of a slice
            ASSERT_EQ(sub.data(), whole.data() + offset + inner);
            ASSERT_TRUE(same_bytes(sub.data(), source.data() + offset + inner, size - inner));
            ASSERT_EQ(whole.use_count(), 3u);
        }
    }
    EXPECT_EQ(whole.use_count(), 1u);
    TypeParam copy = whole;  // copies share too
    EXPECT_EQ(copy.data(), whole.data());
    EXPECT_EQ(whole.use_count(), 2u);
    TypeParam moved = std::move(copy);
    EXPECT_EQ(whole.use_count(), 2u);
    copy = moved;  // assignment onto a moved-from holder
    EXPECT_EQ(whole.use_count(), 3u);
    const TypeParam& itself = copy;
    copy = itself;  // self-assignment
    EXPECT_EQ(whole.use_count(), 3u);
}

// The last holder frees, whichever it is: under AddressSanitizer an early free is a
// use-after-free report here, and a missed free is a leak report at exit.
TYPED_TEST(SharedBuffers, TheLastHolderFrees) {
    const auto source = random_bytes(512, 4);
    std::vector<TypeParam> slices;
    {
        TypeParam whole = TypeParam::copy_of(source.data(), source.size());
        for (std::size_t i = 0; i < 8; ++i) slices.push_back(whole.slice(i * 64, 64));
        EXPECT_EQ(whole.use_count(), 9u);
    }
    EXPECT_EQ(slices.front().use_count(), 8u);  // the parent is gone, its bytes are not
    while (!slices.empty()) {
        const std::size_t i = slices.size() - 1;
        ASSERT_TRUE(same_bytes(slices.back().data(), source.data() + i * 64, 64));
        slices.pop_back();
        if (!slices.empty()) {
            ASSERT_EQ(slices.front().use_count(), slices.size());
        }
    }
}

TYPED_TEST(SharedBuffers, EmptyBuffersAndBounds) {
    TypeParam empty;
    EXPECT_EQ(empty.size(), 0u);
    EXPECT_EQ(empty.use_count(), 0u);
    EXPECT_EQ(empty.slice(0, 0).size(), 0u);
    const std::byte one{1};
    TypeParam nothing = TypeParam::copy_of(&one, 0);
    EXPECT_EQ(nothing.size(), 0u);
    const auto source = random_bytes(100, 5);
    TypeParam whole = TypeParam::copy_of(source.data(), source.size());
    EXPECT_EQ(whole.slice(100, 0).size(), 0u);
    EXPECT_THROW((void)whole.slice(101, 0), std::out_of_range);
    EXPECT_THROW((void)whole.slice(50, 51), std::out_of_range);
    EXPECT_THROW((void)whole.slice(1, SIZE_MAX), std::out_of_range);  // no wrap-around
    EXPECT_EQ(whole.use_count(), 1u);
}

TEST(SharedBytes, OneBlockAlignedTo16) {
    for (std::size_t n : {1u, 7u, 100u, 4096u}) {
        const auto source = random_bytes(n, 6);
        auto shared = allocproof::shared_bytes_buffer::copy_of(source.data(), n);
        auto intrusive = allocproof::intrusive_refcount_buffer::copy_of(source.data(), n);
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(shared.data()) % 16, 0u);
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(intrusive.data()) % 16, 0u);
    }
}

// Holders of one block copied and dropped on four threads at once (the atomic-count forms
// only). Under ThreadSanitizer a race on the count or an early free is reported.
template <class B>
void share_across_threads() {
    const auto source = random_bytes(4096, 7);
    B whole = B::copy_of(source.data(), source.size());
    std::atomic<long> mismatches{0};
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            B mine = whole;  // copied while other threads copy and drop theirs
            for (int i = 0; i < 20000; ++i) {
                const std::size_t offset = (t * 997 + static_cast<std::size_t>(i) * 61) % 4000;
                B part = mine.slice(offset, 96);
                B again = part;
                if (again.data()[5] != source[offset + 5]) ++mismatches;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(mismatches.load(), 0);
    EXPECT_EQ(whole.use_count(), 1u);
}

TEST(SharedBytes, HoldersOnFourThreads) { share_across_threads<allocproof::shared_bytes_buffer>(); }
TEST(MakeShared, HoldersOnFourThreads) { share_across_threads<allocproof::make_shared_buffer>(); }

// ==== registration ===============================================================================

TEST(LayoutStrategies, RegisteredWithTheirFamilies) {
    const auto& reg = allocproof::registry::instance();
    struct expected {
        const char* name;
        bool vector, pool, buffers, thread_safe;
    };
    for (const expected& e :
         {expected{"small_vector", true, false, false, false},
          expected{"boost_small_vector", true, false, false, false},
          expected{"absl_inlined_vector", true, false, false, false},
          expected{"object_pool", false, true, false, false}, expected{"object_pool_shared", false, true, false, true},
          expected{"boost_object_pool", false, true, false, false}, expected{"shared_bytes", false, false, true, true},
          expected{"intrusive_refcount", false, false, true, false},
          expected{"make_shared", false, false, true, true}}) {
        const auto* traits = reg.find_strategy(e.name);
        ASSERT_NE(traits, nullptr) << e.name;
        EXPECT_FALSE(traits->provides_blocks) << e.name;
        EXPECT_EQ(traits->provides_vector, e.vector) << e.name;
        EXPECT_EQ(traits->provides_object_pool, e.pool) << e.name;
        EXPECT_EQ(traits->provides_buffers, e.buffers) << e.name;
        EXPECT_EQ(traits->thread_safe, e.thread_safe) << e.name;
        EXPECT_FALSE(traits->origin.empty()) << e.name;
    }
}

}  // namespace
