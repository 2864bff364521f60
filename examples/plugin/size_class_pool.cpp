// size_class_pool: a strategy that allocproof does not have built in, as a plugin.
//
// One instance serves blocks of any size, as a general-purpose allocator's front end does: a size
// is rounded up to one of 24 size classes (16-byte steps to 256 B, then two classes per doubling
// to 4 KiB), each class keeps a free list of its blocks, and a class that runs dry carves a new
// 64 KiB slab. Larger blocks go straight to the global allocator. Freed blocks go back to their
// class's list at once; slabs go back only when the pool is destroyed.
//
// The differences from the built-in pools are the point of measuring it: fixed_pool serves one
// size per instance, and boost_fast_pool shares one pool per size class across the process.
#include <allocproof/plugin.hpp>

#include <array>
#include <cstddef>
#include <new>
#include <vector>

namespace example {

class size_class_pool {
public:
    static constexpr allocproof::strategy_traits traits{
        .name = "size_class_pool",
        .summary = "segregated free lists for 24 size classes up to 4 KiB, slabs of 64 KiB (a plugin)",
        .origin = "examples/plugin, built out of the tree",
        .frees_individually = true,
    };

    explicit size_class_pool(const allocproof::block_spec&) {}
    ~size_class_pool() {
        for (void* slab : slabs_) ::operator delete(slab, slab_bytes);
    }
    size_class_pool(const size_class_pool&) = delete;
    size_class_pool& operator=(const size_class_pool&) = delete;

    void* allocate(std::size_t bytes) {
        if (bytes > largest_class) return ::operator new(bytes);
        const std::size_t index = class_of(bytes);
        free_block*& head = free_lists_[index];
        if (head == nullptr) refill(index);
        free_block* block = head;
        head = block->next;
        return block;
    }

    void deallocate(void* block, std::size_t bytes) {
        if (bytes > largest_class) {
            ::operator delete(block, bytes);
            return;
        }
        free_block*& head = free_lists_[class_of(bytes)];
        head = new (block) free_block{head};
    }

private:
    struct free_block {
        free_block* next;
    };
    static constexpr std::size_t slab_bytes = 64 * 1024;
    static constexpr std::size_t largest_class = 4096;
    static constexpr std::size_t class_count = 24;

    // 16..256 in steps of 16 (classes 0-15), then two per doubling: 384, 512, 768, ... 4096.
    static constexpr std::array<std::size_t, class_count> class_sizes = [] {
        std::array<std::size_t, class_count> sizes{};
        for (std::size_t i = 0; i < 16; ++i) sizes[i] = 16 * (i + 1);
        std::size_t next = 16;
        for (std::size_t base = 256; base < largest_class; base *= 2) {
            sizes[next++] = base + base / 2;
            sizes[next++] = base * 2;
        }
        return sizes;
    }();

    static std::size_t class_of(std::size_t bytes) {
        if (bytes <= 256) return bytes == 0 ? 0 : (bytes - 1) / 16;
        std::size_t index = 16;
        while (class_sizes[index] < bytes) ++index;  // at most 8 steps
        return index;
    }

    void refill(std::size_t index) {
        const std::size_t size = class_sizes[index];
        auto* slab = static_cast<std::byte*>(::operator new(slab_bytes));
        slabs_.push_back(slab);
        free_block* head = free_lists_[index];
        for (std::size_t offset = slab_bytes / size * size; offset >= size; offset -= size) {
            head = new (slab + offset - size) free_block{head};
        }
        free_lists_[index] = head;
    }

    std::array<free_block*, class_count> free_lists_{};
    std::vector<void*> slabs_;
};

}  // namespace example

ALLOCPROOF_PLUGIN("size_class_pool example", example::size_class_pool)
