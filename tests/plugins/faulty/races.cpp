// A strategy that declares itself thread-safe, and even safe to free from another thread, but
// keeps its free list with no synchronisation at all. On embeddings, where every thread has
// instances of its own, nothing ever races, so its cells would be `ok`; the stress check, which
// shares one instance between threads, finds the blocks it hands out twice.
#include "allocproof/plugin.hpp"
#include "tests/plugins/faulty/registrations.hpp"
#include "workloads/embeddings.hpp"

#include <algorithm>
#include <cstddef>
#include <new>

namespace faulty {
namespace {

class races {
public:
    static constexpr allocproof::strategy_traits traits{
        .name = "races",
        .summary = "declares thread_safe and cross_thread_free; its free list has no lock",
        .origin = "tests/plugins/faulty/races.cpp",
        .thread_safe = true,
        .cross_thread_free = true,
    };

    explicit races(const allocproof::block_spec& spec)
        : block_bytes_(std::max(sizeof(free_block), (spec.size + 15) / 16 * 16)) {}
    ~races() {
        while (free_ != nullptr) ::operator delete(pop(), block_bytes_);
    }
    races(const races&) = delete;
    races& operator=(const races&) = delete;

    void* allocate(std::size_t bytes) {
        if (bytes > block_bytes_) return ::operator new(bytes);
        return free_ != nullptr ? pop() : ::operator new(block_bytes_);
    }
    void deallocate(void* block, std::size_t bytes) {
        if (bytes > block_bytes_) return ::operator delete(block, bytes);
        free_ = new (block) free_block{free_};
    }

private:
    struct free_block {
        free_block* next;
    };
    void* pop() {
        free_block* block = free_;
        free_ = block->next;
        return block;
    }

    std::size_t block_bytes_;
    free_block* free_ = nullptr;
};

const registers races_cells{
    [] { allocproof::register_strategy_cells<races>(allocproof::type_list<allocproof::workloads::embeddings>{}); }};

}  // namespace
}  // namespace faulty
