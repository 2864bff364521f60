// A plugin that misbehaves while it is loaded, when the tests ask for it through the environment
// (the cell programs the driver starts inherit it): ALLOCPROOF_FAULTY_ON_LOAD=print writes to
// standard output, =exit ends the process with code 7, =comma and =newline register a strategy
// whose name would break a CSV line or a cell id. Unset, the plugin loads as usual.
#include "allocproof/plugin.hpp"
#include "tests/plugins/faulty/registrations.hpp"
#include "workloads/node_churn.hpp"

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace faulty {
namespace {

template <class Name>
struct misnamed {
    static constexpr allocproof::strategy_traits traits = {.name = Name::name,
                                                           .summary = "a name outside the alphabet",
                                                           .origin = "tests/plugins/faulty/misbehaves_on_load.cpp"};
    explicit misnamed(const allocproof::block_spec&) {}
    void* allocate(std::size_t bytes) { return ::operator new(bytes); }
    void deallocate(void* block, std::size_t bytes) { ::operator delete(block, bytes); }
};
struct with_comma {
    static constexpr std::string_view name = "has,comma";
};
struct with_newline {
    static constexpr std::string_view name = "has\nnewline";
};

const registers misbehaviour_on_load{[] {
    const char* asked = std::getenv("ALLOCPROOF_FAULTY_ON_LOAD");
    const std::string_view what = asked == nullptr ? "" : asked;
    if (what == "print") {
        std::puts("hello from the faulty plugin");
    } else if (what == "exit") {
        std::exit(7);
    } else if (what == "comma") {
        allocproof::register_strategy_cells<misnamed<with_comma>>(
            allocproof::type_list<allocproof::workloads::node_churn>{});
    } else if (what == "newline") {
        allocproof::register_strategy_cells<misnamed<with_newline>>(
            allocproof::type_list<allocproof::workloads::node_churn>{});
    }
}};

}  // namespace
}  // namespace faulty
