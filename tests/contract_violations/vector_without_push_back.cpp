// A vector-family strategy whose vector cannot grow, in a plugin.
// expect: allocproof vector strategy (traits.provides_vector): vector<T, N> misses push_back(const T&)
#include "allocproof/plugin.hpp"

#include <cstddef>
#include <vector>

namespace contract_violations {

template <class T>
class fixed_vector {
public:
    std::size_t size() const { return items_.size(); }
    T& operator[](std::size_t index) { return items_[index]; }
    auto begin() const { return items_.begin(); }
    auto end() const { return items_.end(); }

private:
    std::vector<T> items_;
};

struct vector_only {
    static constexpr allocproof::strategy_traits traits{.name = "vector_only",
                                                        .summary = "a vector without push_back",
                                                        .origin = "tests/contract_violations",
                                                        .provides_blocks = false,
                                                        .provides_vector = true};
    template <class T, std::size_t N>
    using vector = fixed_vector<T>;
};

}  // namespace contract_violations

ALLOCPROOF_PLUGIN("contract violation", contract_violations::vector_only)
