// The positive case: a strategy of every family and a workload that keep their contracts compile.
// expect: nothing (it compiles)
#include "allocproof/plugin.hpp"
#include "parts.hpp"
#include "workloads/node_churn.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

namespace contract_violations {

template <class T>
class simple_pool {
public:
    explicit simple_pool(std::size_t) {}
    T* acquire() { return new T(); }
    void release(T* object) { delete object; }
};

class simple_buffer {
public:
    static simple_buffer copy_of(const void* data, std::size_t size) {
        auto bytes = std::make_shared<std::vector<std::byte>>(size);
        std::memcpy(bytes->data(), data, size);
        return simple_buffer(std::move(bytes), 0, size);
    }
    simple_buffer slice(std::size_t offset, std::size_t size) const {
        return simple_buffer(bytes_, offset_ + offset, size);
    }
    const std::byte* data() const { return bytes_->data() + offset_; }
    std::size_t size() const { return size_; }

private:
    simple_buffer(std::shared_ptr<std::vector<std::byte>> bytes, std::size_t offset, std::size_t size)
        : bytes_(std::move(bytes)), offset_(offset), size_(size) {}
    std::shared_ptr<std::vector<std::byte>> bytes_;
    std::size_t offset_;
    std::size_t size_;
};

struct every_family {
    static constexpr allocproof::strategy_traits traits{.name = "every_family",
                                                        .summary = "each family the plain way",
                                                        .origin = "tests/contract_violations",
                                                        .provides_vector = true,
                                                        .provides_object_pool = true,
                                                        .provides_buffers = true};
    explicit every_family(const allocproof::block_spec&) {}
    void* allocate(std::size_t bytes) { return ::operator new(bytes); }
    void deallocate(void* block, std::size_t bytes) { ::operator delete(block, bytes); }
    template <class T, std::size_t N>
    using vector = std::vector<T>;
    template <class T>
    using object_pool = simple_pool<T>;
    using buffer = simple_buffer;
};

struct counts_up {
    static constexpr allocproof::workload_traits traits{.name = "counts_up", .summary = "a well-formed workload"};
    template <class S>
    static constexpr bool accepts = S::traits.provides_blocks;
    template <class S>
    using worker = counting_worker<S>;
};

static_assert(allocproof::any_strategy<every_family>);
static_assert(allocproof::vector_strategy<every_family> && allocproof::object_pool_strategy<every_family> &&
              allocproof::buffer_strategy<every_family>);
static_assert(allocproof::workload_definition<counts_up>);

void register_all() {
    allocproof::register_strategy_cells<every_family>(
        allocproof::type_list<counts_up, allocproof::workloads::node_churn>{});
}

}  // namespace contract_violations

ALLOCPROOF_REGISTER_WORKLOAD(contract_violations::counts_up)
ALLOCPROOF_PLUGIN_REGISTERING("well formed", contract_violations::register_all)
