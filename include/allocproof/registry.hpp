// allocproof — the registry of strategies, workloads, and the cells they make together.
//
// Entries arrive during static initialisation, one per file (see ALLOCPROOF_REGISTER_STRATEGY and
// ALLOCPROOF_REGISTER_WORKLOAD); the registry is a function-local static so that the order in
// which translation units initialise does not matter.
#pragma once

#include "allocproof/strategy.hpp"
#include "allocproof/workload.hpp"

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace allocproof {

struct cell_request;
struct cell_measurement;
using cell_function = cell_measurement (*)(const cell_request&);

// A strategy behind a virtual interface, for tests and tools that treat every strategy alike
// (conformance tests: no overlap, alignment, reuse). Never used on a measured path.
class erased_strategy {
public:
    virtual ~erased_strategy() = default;
    virtual void* allocate(std::size_t bytes) = 0;
    virtual void deallocate(void* block, std::size_t bytes) = 0;
};
using strategy_factory = std::unique_ptr<erased_strategy> (*)(const block_spec&);

struct strategy_entry {
    strategy_traits traits;
    strategy_factory make;
};

struct cell_entry {
    std::string_view workload;  // the full name, "<workload>:<variant>" for a variant
    std::string_view strategy;
    cell_function run;
    unsigned variant = 0;
    // Runs the cell with the request's variant set to this cell's own.
    cell_measurement measure(const cell_request& request) const;
};

class registry {
public:
    static registry& instance();

    // Registers one workload per variant, each named "<name>:<variant>" (or "<name>").
    void add_workload(const workload_traits& traits);
    // The names add_workload gives a workload's forms, in the order of traits.variants.
    std::vector<std::string_view> workload_names(const workload_traits& traits);
    void add_strategy(const strategy_traits& traits, strategy_factory make);
    void add_cell(std::string_view workload, std::string_view strategy, cell_function run, unsigned variant = 0);

    // Sorted by name, except that the baseline strategy `std` comes first.
    std::vector<workload_traits> workloads() const;
    std::vector<strategy_traits> strategies() const;
    const workload_traits* find_workload(std::string_view name) const;
    const strategy_traits* find_strategy(std::string_view name) const;
    // A fresh instance of a strategy behind erased_strategy; nullptr for an unknown name.
    std::unique_ptr<erased_strategy> make_strategy(std::string_view name, const block_spec& spec) const;
    const cell_entry* find_cell(std::string_view workload, std::string_view strategy) const;

    const std::vector<cell_entry>& cells() const { return cells_; }

    // Names registered twice; a non-empty list makes the driver refuse to run.
    const std::vector<std::string>& conflicts() const { return conflicts_; }

private:
    registry() = default;
    std::string_view intern(std::string name);
    std::set<std::string, std::less<>> names_;  // stable storage for variant names
    std::vector<workload_traits> workloads_;
    std::vector<strategy_entry> strategies_;
    std::vector<cell_entry> cells_;
    std::vector<std::string> conflicts_;
};

inline constexpr std::string_view baseline_strategy = "std";

}  // namespace allocproof

namespace allocproof::registration {
// Specialised once per workload and per strategy by the macros below. An explicit
// specialisation is an ordinary inline variable, so its initialiser runs exactly once per process
// however many translation units include the header that defines it.
template <class T>
extern const bool workload_registered;
template <class T>
extern const bool strategy_registered;
}  // namespace allocproof::registration

// Registers a workload's name and description; placed at the end of workloads/<name>.hpp. The
// workload's contract is checked there (check_workload_contract), so a workload that misses part
// of it gets one error from its own file.
// A plugin (ALLOCPROOF_PLUGIN_BUILD, set by the installed CMake package) includes the same
// headers to instantiate the workloads with its strategy, but the workloads themselves are the
// host's: registering them a second time would clash. Their contract is checked all the same.
namespace allocproof::registration {
// True once W's contract was checked: the static_asserts of check_workload_contract say what fails.
template <class W>
inline constexpr bool workload_contract_checked = (check_workload_contract<W>(), true);

template <class W>
bool register_workload() {
    if constexpr (check_workload_contract<W>()) registry::instance().add_workload(W::traits);
    return true;
}
}  // namespace allocproof::registration

#if defined(ALLOCPROOF_PLUGIN_BUILD)
#define ALLOCPROOF_REGISTER_WORKLOAD(...) \
    static_assert(::allocproof::registration::workload_contract_checked<__VA_ARGS__>);
#else
#define ALLOCPROOF_REGISTER_WORKLOAD(...)                                          \
    template <>                                                                    \
    inline const bool allocproof::registration::workload_registered<__VA_ARGS__> = \
        ::allocproof::registration::register_workload<__VA_ARGS__>();
#endif
