#include "harness/conformance.hpp"

#include "allocproof/checked_blocks.hpp"  // required_alignment
#include "workloads/support/spsc_ring.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <barrier>
#include <cstdint>
#include <cstring>
#include <chrono>
#include <deque>
#include <latch>
#include <mutex>
#include <random>
#include <thread>

#if defined(__SANITIZE_ADDRESS__)
// From the sanitizers' allocator interface (see tests/test_strategy_conformance.cpp): nonzero if p
// is a live block malloc returned.
extern "C" int __sanitizer_get_ownership(const volatile void* p);
#endif

namespace allocproof::conformance {

namespace {

bool aligned(const void* block, std::size_t alignment) {
    return (reinterpret_cast<std::uintptr_t>(block) & (alignment - 1)) == 0;
}

std::size_t lowest_alignment(const void* block) {
    const auto address = reinterpret_cast<std::uintptr_t>(block);
    return static_cast<std::size_t>(address & (~address + 1));
}

// ---- one thread ---------------------------------------------------------------------------------

struct canary_block {
    unsigned char* data;
    std::size_t size;
    unsigned char canary;
};

bool intact(const canary_block& b) {
    return std::all_of(b.data, b.data + b.size, [&](unsigned char c) { return c == b.canary; });
}

// Live blocks of one instance, asked for with one block_spec; every failure is the first one found.
class block_round {
public:
    block_round(const strategy_traits& traits, erased_strategy& strategy, const block_spec& spec)
        : traits_(traits), strategy_(strategy), spec_(spec), random_(spec.size * 31 + spec.alignment) {}
    block_round(const block_round&) = delete;
    block_round& operator=(const block_round&) = delete;
    ~block_round() {
        if (traits_.frees_individually) {
            for (const auto& b : live_) strategy_.deallocate(b.data, b.size);
        }
    }

    std::optional<failure> allocate(std::size_t count) {
        for (std::size_t i = 0; i < count; ++i) {
            auto* block = static_cast<unsigned char*>(strategy_.allocate(spec_.size));
            if (block == nullptr) {
                if (traits_.may_refuse) return std::nullopt;  // its budget is spent
                return failure{"allocate", fmt::format("{}: allocate({}) returned nullptr, and it does not declare "
                                                       "may_refuse",
                                                       where(), spec_.size)};
            }
            if (!aligned(block, required_alignment(spec_.size, spec_.alignment, traits_.max_alignment))) {
                const std::size_t found = lowest_alignment(block);
                strategy_.deallocate(block, spec_.size);
                return failure{"alignment",
                               fmt::format("{}: a block at {} is aligned to {} bytes (it declares "
                                           "max_alignment {})",
                                           where(), static_cast<void*>(block), found, traits_.max_alignment)};
            }
            live_.push_back({block, spec_.size, static_cast<unsigned char>(random_() | 1)});
            std::memset(block, live_.back().canary, spec_.size);
        }
        return std::nullopt;
    }

    std::optional<failure> disjoint(std::string_view when) const {
        std::vector<canary_block> sorted = live_;
        std::ranges::sort(sorted, {}, &canary_block::data);
        for (std::size_t i = 1; i < sorted.size(); ++i) {
            if (sorted[i - 1].data + sorted[i - 1].size > sorted[i].data) {
                return failure{"disjoint blocks",
                               fmt::format("{} {}: live blocks at {} and {} overlap", where(), when,
                                           static_cast<void*>(sorted[i - 1].data), static_cast<void*>(sorted[i].data))};
            }
        }
        return std::nullopt;
    }

    std::optional<failure> contents_kept(std::string_view when) const {
        for (const auto& b : live_) {
            if (!intact(b)) {
                return failure{"contents kept", fmt::format("{} {}: the live block at {} no longer holds what was "
                                                            "written to it",
                                                            where(), when, static_cast<void*>(b.data))};
            }
        }
        return std::nullopt;
    }

    // Frees `count` live blocks chosen at random, each checked as it goes.
    std::optional<failure> free_some(std::size_t count) {
        std::shuffle(live_.begin(), live_.end(), random_);
        for (std::size_t i = 0; i < count && !live_.empty(); ++i) {
            if (!intact(live_.back())) {
                return failure{"contents kept", fmt::format("{}: the live block at {} no longer holds what was "
                                                            "written to it",
                                                            where(), static_cast<void*>(live_.back().data))};
            }
            strategy_.deallocate(live_.back().data, live_.back().size);
            live_.pop_back();
        }
        return std::nullopt;
    }

private:
    std::string where() const { return fmt::format("blocks of {} B aligned to {}", spec_.size, spec_.alignment); }

    const strategy_traits& traits_;
    erased_strategy& strategy_;
    block_spec spec_;
    std::mt19937_64 random_;
    std::vector<canary_block> live_;
};

// 8 and 16 (alignof(max_align_t)), and whatever more the strategy declares.
std::vector<std::size_t> alignments_of(const strategy_traits& traits) {
    std::vector<std::size_t> alignments;
    for (std::size_t a : {std::size_t{8}, std::size_t{16}, traits.max_alignment}) {
        if (a <= traits.max_alignment && std::ranges::find(alignments, a) == alignments.end()) alignments.push_back(a);
    }
    if (alignments.empty()) alignments.push_back(traits.max_alignment);
    return alignments;
}

constexpr std::size_t blocks_per_round = 4000;

std::optional<failure> reuse(const strategy_traits& traits, const strategy_maker& make) {
    const block_spec spec{64, std::min<std::size_t>(16, traits.max_alignment)};
    auto strategy = make(spec);
#if defined(__SANITIZE_ADDRESS__)
    // AddressSanitizer keeps freed malloc blocks in quarantine: a strategy that gives its blocks
    // straight back to malloc cannot reuse them soon under it (tests/test_strategy_conformance.cpp).
    {
        void* probe = strategy->allocate(64);
        const bool malloc_block = probe != nullptr && __sanitizer_get_ownership(probe) != 0;
        if (probe != nullptr) strategy->deallocate(probe, 64);
        if (malloc_block && __sanitizer_get_ownership(probe) == 0) return std::nullopt;
    }
#endif
    // After a warm-up that has the strategy hold its memory, a steady alloc/free cycle must keep
    // coming back to a small set of addresses, not walk through fresh memory.
    constexpr std::size_t cycles = 1000, most_addresses = 8;
    std::vector<void*> seen;
    for (std::size_t i = 0; i < cycles; ++i) {
        void* block = strategy->allocate(64);
        if (block == nullptr) return std::nullopt;  // a may_refuse strategy whose budget is spent
        if (std::ranges::find(seen, block) == seen.end()) seen.push_back(block);
        strategy->deallocate(block, 64);
    }
    if (seen.size() > most_addresses) {
        return failure{"reuse", fmt::format("{} alloc/free cycles of 64 B blocks were served from {} addresses (at "
                                            "most {} expected): freed blocks are not handed out again",
                                            cycles, seen.size(), most_addresses)};
    }
    return std::nullopt;
}

// ---- threads ------------------------------------------------------------------------------------

// How a block crosses to another thread: a ring with one producer and one consumer, the one the
// cross-thread workloads use.
using handoff_ring = workloads::support::spsc_ring<void*>;
constexpr std::size_t handoff_capacity = 256;

// A block's tag: a marker, its thread and its number. Every word of the block holds a mix of the
// tag and the word's index; its size follows from the tag, so nothing else travels with it.
constexpr std::uint64_t tag_marker = 0xA5ULL << 56;
constexpr unsigned max_threads = 255;

std::uint64_t tag_of(unsigned thread, std::uint64_t number) {
    return tag_marker | (static_cast<std::uint64_t>(thread) << 48) | (number & 0xFFFF'FFFF'FFFFULL);
}
unsigned owner_of(std::uint64_t tag) { return static_cast<unsigned>((tag >> 48) & 0xFF); }
std::uint64_t word_at(std::uint64_t tag, std::size_t index) { return tag ^ (index * 0x9E3779B97F4A7C15ULL); }

class stress_run {
public:
    stress_run(const strategy_traits& traits, erased_strategy& strategy, const block_spec& spec,
               const stress_settings& settings)
        : traits_(traits), strategy_(strategy), spec_(spec), settings_(settings) {
        // A deque: the rings neither copy nor move, and stay where they were built.
        for (unsigned i = 0; i < settings.threads * settings.threads; ++i) {
            to_.emplace_back(handoff_capacity);
            back_.emplace_back(handoff_capacity);
        }
    }

    std::optional<failure> run() {
        std::vector<std::thread> threads;
        for (unsigned t = 0; t < settings_.threads; ++t) {
            threads.emplace_back([this, t] {
                start_.arrive_and_wait();  // all at once: threads started one by one would barely overlap
                work(t);
            });
        }
        for (auto& thread : threads) thread.join();
        if (failed_.load()) return failure{"stress check", first_failure_};
        return std::nullopt;
    }

private:
    static constexpr std::size_t kept_live = 64;  // a thread's own live blocks, before it hands one on
    static constexpr std::uint64_t burst_blocks = 256;

    std::size_t bytes_of(std::uint64_t tag) const {
        if (traits_.fixed_size) return spec_.size;
        // 16 B up to the spec's size, in steps of 8, from the tag's number.
        const std::uint64_t mixed = (tag * 0xBF58476D1CE4E5B9ULL) >> 40;
        return 16 + (mixed % ((spec_.size - 16) / 8 + 1)) * 8;
    }

    void fill(void* block, std::uint64_t tag) const {
        auto* words = static_cast<std::uint64_t*>(block);
        const std::size_t count = bytes_of(tag) / 8;
        for (std::size_t i = 0; i < count; ++i) words[i] = word_at(tag, i);
    }

    // True when `block` still holds what its owner wrote; else records why, and false.
    bool verify(const void* block, unsigned holder, const char* when) {
        const auto* words = static_cast<const std::uint64_t*>(block);
        const std::uint64_t tag = words[0];
        if ((tag & (0xFFULL << 56)) != tag_marker || owner_of(tag) >= settings_.threads) {
            fail(
                fmt::format("thread {} {} a block at {} whose first word is {:#x}, no block's tag: another "
                            "block was written over it while it was live",
                            holder, when, block, tag));
            return false;
        }
        const std::size_t count = bytes_of(tag) / 8;
        for (std::size_t i = 1; i < count; ++i) {
            if (words[i] != word_at(tag, i)) {
                fail(
                    fmt::format("thread {} {} block #{} of thread {} at {}, whose byte {} was overwritten while "
                                "it was live (blocks handed out twice, or a free list written by two threads)",
                                holder, when, tag & 0xFFFF'FFFF'FFFFULL, owner_of(tag), block, i * 8));
                return false;
            }
        }
        return true;
    }

    void fail(std::string what) {
        std::lock_guard lock(failure_mutex_);
        if (!failed_.load()) first_failure_ = std::move(what);
        failed_.store(true);
    }

    void release(void* block) { strategy_.deallocate(block, bytes_of(*static_cast<const std::uint64_t*>(block))); }

    handoff_ring& to(unsigned from, unsigned destination) { return to_[from * settings_.threads + destination]; }
    handoff_ring& back(unsigned from, unsigned owner) { return back_[from * settings_.threads + owner]; }

    // Takes what other threads handed to thread t: checks it, then frees it or returns it to its owner.
    void serve(unsigned t, std::vector<void*>& to_return) {
        for (unsigned s = 0; s < settings_.threads; ++s) {
            if (s == t) continue;
            void* block;
            while (to(s, t).try_pop(block)) {
                if (!verify(block, t, "received")) return;
                if (traits_.cross_thread_free) {
                    release(block);
                    in_flight_.fetch_sub(1);
                } else {
                    to_return.push_back(block);
                }
            }
            while (back(s, t).try_pop(block)) {
                if (!verify(block, t, "got back")) return;
                release(block);
                in_flight_.fetch_sub(1);
            }
        }
        std::erase_if(to_return, [&](void* block) {
            return back(t, owner_of(*static_cast<const std::uint64_t*>(block))).try_push(block);
        });
    }

    // Each thread allocates at least blocks_per_thread blocks, and goes on until min_duration has
    // passed: on a loaded machine the threads overlap only when the scheduler lets them, and races
    // need them to overlap (or to be preempted in the middle of a call).
    bool producing(std::uint64_t number, std::chrono::steady_clock::time_point started) const {
        if (failed_.load()) return false;
        if (number < settings_.blocks_per_thread) return true;
        return number % 1024 != 0 || std::chrono::steady_clock::now() - started < settings_.min_duration;
    }

    void work(unsigned t) {
        std::deque<void*> own;
        std::vector<void*> to_return;
        const bool produced = produce(t, own, to_return);
        bursts_.arrive_and_drop();
        if (!produced) return;
        for (void* block : own) {
            if (failed_.load() || !verify(block, t, "kept")) return;
            release(block);
        }
        producers_done_.fetch_add(1);
        while (!failed_.load() && !(producers_done_.load() == settings_.threads && in_flight_.load() == 0)) {
            serve(t, to_return);
            std::this_thread::yield();
        }
    }

    // Allocates, fills and hands on blocks; false when it found a fault.
    bool produce(unsigned t, std::deque<void*>& own, std::vector<void*>& to_return) {
        const auto started = std::chrono::steady_clock::now();
        for (std::uint64_t number = 0; producing(number, started); ++number) {
            // The threads meet every few blocks and start again at once: on a machine whose cores
            // are busy they would otherwise drift into taking turns, and turns do not race.
            if (number % burst_blocks == burst_blocks - 1) bursts_.arrive_and_wait();
            const std::uint64_t tag = tag_of(t, number);
            void* block = strategy_.allocate(bytes_of(tag));
            if (block == nullptr) {
                if (!traits_.may_refuse) fail(fmt::format("thread {}: allocate returned nullptr", t));
                serve(t, to_return);
                continue;
            }
            const std::size_t alignment = required_alignment(bytes_of(tag), spec_.alignment, traits_.max_alignment);
            if (!aligned(block, alignment)) {
                fail(fmt::format("thread {}: a block at {} is aligned to {} bytes, not {}", t, block,
                                 lowest_alignment(block), alignment));
                return false;
            }
            fill(block, tag);
            own.push_back(block);
            if (own.size() > kept_live) {
                void* oldest = own.front();
                own.pop_front();
                if (!verify(oldest, t, "kept")) return false;
                const unsigned destination =
                    (t + 1 + static_cast<unsigned>(number % (settings_.threads - 1))) % settings_.threads;
                in_flight_.fetch_add(1);
                if (!to(t, destination).try_push(oldest)) {
                    in_flight_.fetch_sub(1);
                    release(oldest);
                }
            }
            serve(t, to_return);
        }
        return !failed_.load();
    }

    const strategy_traits& traits_;
    erased_strategy& strategy_;
    block_spec spec_;
    stress_settings settings_;
    std::deque<handoff_ring> to_;    // [from * threads + destination]
    std::deque<handoff_ring> back_;  // [from * threads + owner]: blocks going home to be freed
    std::latch start_{static_cast<std::ptrdiff_t>(settings_.threads)};
    std::barrier<> bursts_{static_cast<std::ptrdiff_t>(settings_.threads)};
    std::atomic<std::int64_t> in_flight_{0};  // handed to another thread and not yet freed
    std::atomic<unsigned> producers_done_{0};
    std::atomic<bool> failed_{false};
    std::mutex failure_mutex_;
    std::string first_failure_;
};

}  // namespace

std::optional<failure> check_blocks(const strategy_traits& traits, const strategy_maker& make,
                                    const step_notice& notice) {
    for (std::size_t size : {8u, 64u, 256u, 1000u}) {
        for (std::size_t alignment : alignments_of(traits)) {
            const block_spec spec{size, alignment};
            if (notice) notice(fmt::format("blocks of {} B aligned to {}", size, alignment));
            auto strategy = make(spec);
            std::optional<failure> found;
            {
                block_round round(traits, *strategy, spec);
                found = round.allocate(blocks_per_round);
                if (!found) found = round.disjoint("after filling");
                if (!found) found = round.contents_kept("after filling");
                // Free half at random, allocate again: reuse must not hand out a live block.
                if (!found && traits.frees_individually) found = round.free_some(blocks_per_round / 2);
                if (!found && traits.frees_individually) found = round.allocate(blocks_per_round / 2);
                if (!found) found = round.disjoint("after reuse");
                if (!found) found = round.contents_kept("after reuse");
            }
            if (found) return found;
        }
    }
    if (traits.frees_individually) {
        if (notice) notice("reuse");
        return reuse(traits, make);
    }
    return std::nullopt;
}

std::optional<failure> stress_check(const strategy_traits& traits, const strategy_maker& make,
                                    const stress_settings& settings, const step_notice& notice) {
    if (settings.threads < 2 || settings.threads > max_threads) {
        return failure{"stress check", fmt::format("cannot run on {} threads", settings.threads)};
    }
    if (notice) notice("stress check");
    // Small blocks: the threads' time goes into the strategy's calls, where races happen, more
    // than into filling and checking patterns.
    const block_spec spec{traits.fixed_size ? 64u : 128u, std::min<std::size_t>(16, traits.max_alignment)};
    auto strategy = make(spec);
    auto found = stress_run(traits, *strategy, spec, settings).run();
    // A strategy that raced may have corrupted its own lists: destroying it could crash and take
    // the finding with it. It is left as it is (and the blocks the threads still held).
    if (found) static_cast<void>(strategy.release());
    return found;
}

std::optional<failure> check_strategy(std::string_view name, const step_notice& notice,
                                      std::vector<std::string>* passed, std::vector<failure>* notes) {
    const registry& reg = registry::instance();
    const strategy_traits* traits = reg.find_strategy(name);
    if (traits == nullptr || !traits->provides_blocks) {
        return failure{"registry", fmt::format("no blocks strategy '{}' is registered", name)};
    }
    const strategy_maker make = [&](const block_spec& spec) { return reg.make_strategy(name, spec); };
    if (auto found = check_blocks(*traits, make, notice)) {
        if (found->check != "reuse") return found;
        if (notes != nullptr) notes->push_back(*found);
    } else if (passed != nullptr && traits->frees_individually) {
        passed->push_back("reuse");
    }
    if (passed != nullptr) passed->insert(passed->begin(), {"alignment", "disjoint blocks", "contents kept"});
    if (traits->thread_safe) {
        if (auto found = stress_check(*traits, make, {}, notice)) return found;
        if (passed != nullptr) passed->push_back("stress check");
    }
    return std::nullopt;
}

}  // namespace allocproof::conformance
