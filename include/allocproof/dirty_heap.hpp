// --dirty-heap: leave the global allocator's heap used before a cell's workload builds its state.
//
// A fresh process hands out memory from untouched pages in address order, which flatters a
// general-purpose allocator; a server that has run for a day has free lists full of holes. This
// allocates many mixed-size objects (16 B to 4 KiB, log-uniform, so small ones dominate as they
// do in real heaps), then frees a random half, and keeps the other half alive until the cell
// ends, so the holes stay. Each worker thread dirties its own heap, since jemalloc, mimalloc and
// tcmalloc keep per-thread caches and arenas.
#pragma once

#include "allocproof/workload.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

namespace allocproof {

class dirty_heap {
public:
    dirty_heap() = default;
    dirty_heap(std::uint64_t bytes, std::uint64_t seed) {
        split_mix random(seed);
        std::uint64_t total = 0;
        while (total < bytes) {
            // 2^(4 + [0, 8)) with a random fraction: 16 B .. 4 KiB, log-uniform.
            std::size_t size = std::size_t{16} << random.below(8);
            size += random.below(size);
            // Written in full, as a real heap's objects are: the pages become resident.
            void* pointer = ::operator new(size);
            std::memset(pointer, static_cast<int>(size), size);
            blocks_.push_back({pointer, size});
            total += size;
        }
        for (std::size_t i = 0; i < blocks_.size(); ++i) {
            if (random.next() & 1) {
                release(blocks_[i]);
            }
        }
    }
    dirty_heap(const dirty_heap&) = delete;
    dirty_heap& operator=(const dirty_heap&) = delete;
    ~dirty_heap() {
        for (auto& held : blocks_) {
            release(held);
        }
    }

private:
    struct block {
        void* pointer;
        std::size_t size;
    };
    static void release(block& b) {
        if (b.pointer != nullptr) {
            ::operator delete(b.pointer, b.size);
            b.pointer = nullptr;
        }
    }
    std::vector<block> blocks_;
};

}  // namespace allocproof
