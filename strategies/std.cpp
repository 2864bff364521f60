// std — the baseline: the plain standard-library way, in every family.
//
//   blocks       each block from global operator new / delete (sized delete, as a C++ program
//                that knows its object sizes would call it)
//   vector       std::vector<T>
//   object_pool  no pooling: acquire() is `new T`, release() is `delete`
//   buffers      a deep copy per buffer and per slice
//
// Contract: any size, frees individually, thread-safe and cross-thread free (as the global
// allocator is), alignment up to alignof(std::max_align_t). Every other strategy is read as a
// ratio to this one on the same global allocator.
#include "allocproof/register.hpp"
#include "allocproof/strategy.hpp"

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

namespace allocproof::strategies {

class std_new {
public:
    static constexpr strategy_traits traits{
        .name = "std",
        .summary = "global operator new/delete, std::vector, no pooling, deep copies",
        .origin = "baseline",
        .provides_blocks = true,
        .provides_vector = true,
        .provides_object_pool = true,
        .provides_buffers = true,
        .frees_individually = true,
        .thread_safe = true,
        .cross_thread_free = true,
    };

    explicit std_new(const block_spec&) {}

    void* allocate(std::size_t bytes) { return ::operator new(bytes); }
    void deallocate(void* block, std::size_t bytes) { ::operator delete(block, bytes); }

    template <class T, std::size_t N>
    using vector = std::vector<T>;

    template <class T>
    class object_pool {
    public:
        explicit object_pool(std::size_t /*max_pooled*/) {}
        T* acquire() { return new T(); }
        void release(T* object) { delete object; }
    };

    // Owns its bytes; a slice copies them out, as code without shared buffers does.
    class buffer {
    public:
        buffer() = default;
        static buffer copy_of(const void* data, std::size_t size) {
            buffer b;
            b.bytes_.resize(size);
            if (size != 0) std::memcpy(b.bytes_.data(), data, size);
            return b;
        }
        buffer slice(std::size_t offset, std::size_t size) const {
            return copy_of(bytes_.data() + offset, size);
        }
        const std::byte* data() const { return bytes_.data(); }
        std::size_t size() const { return bytes_.size(); }

    private:
        std::vector<std::byte> bytes_;
    };
};

}  // namespace allocproof::strategies

ALLOCPROOF_REGISTER_STRATEGY(allocproof::strategies::std_new)
