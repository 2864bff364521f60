// A strategy that declares more alignment than it gives: max_alignment 64, but every block starts
// 8 bytes past a 64-byte boundary. embeddings:simd_aligned, the cell that reads aligned storage's
// figures, would show its figures as aligned storage's (its kernels load unaligned, so nothing
// crashes) and `list` would say "aligned to 64". The alignment check of every cell catches it.
#include "allocproof/plugin.hpp"
#include "tests/plugins/faulty/registrations.hpp"
#include "workloads/embeddings.hpp"

#include <cstddef>
#include <new>

namespace faulty {
namespace {

class misaligned {
public:
    static constexpr allocproof::strategy_traits traits{
        .name = "misaligned",
        .summary = "declares 64-byte alignment, returns blocks aligned to 8",
        .origin = "tests/plugins/faulty/misaligned.cpp",
        .max_alignment = 64,
    };
    static constexpr std::size_t shift = 8;
    static constexpr std::align_val_t boundary{64};

    explicit misaligned(const allocproof::block_spec&) {}
    void* allocate(std::size_t bytes) {
        return static_cast<std::byte*>(::operator new(bytes + shift, boundary)) + shift;
    }
    void deallocate(void* block, std::size_t bytes) {
        ::operator delete(static_cast<std::byte*>(block) - shift, bytes + shift, boundary);
    }
};

const registers misaligned_cells{[] {
    allocproof::register_strategy_cells<misaligned>(allocproof::type_list<allocproof::workloads::embeddings>{});
}};

}  // namespace
}  // namespace faulty
