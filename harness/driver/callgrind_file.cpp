#include "harness/driver/callgrind_file.hpp"

#include "harness/driver/allocator_catalogue.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace allocproof::driver {

namespace {

// Callgrind compresses names: "(12) name" the first time, "(12)" after. Files (fl, fi, fe, cfi,
// cfl), objects (ob, cob) and functions (fn, cfn) each have their own table.
struct name_table {
    std::map<std::string, std::string> by_id;
    std::string resolve(const std::string& text) {
        if (text.empty() || text.front() != '(') return text;
        const auto close = text.find(')');
        if (close == std::string::npos) return text;
        const std::string id = text.substr(0, close + 1);
        if (close + 1 < text.size()) by_id[id] = text.substr(text.find_first_not_of(' ', close + 1));
        const auto known = by_id.find(id);
        return known == by_id.end() ? text : known->second;
    }
};

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

}  // namespace

bool is_allocation_code(std::string_view object, std::string_view file) {
    // The global allocator: its own library, or the part of it that is the allocator where the
    // library holds more (glibc's malloc, whose sources are under malloc/: catalogue/allocators.json).
    for (const auto& allocator : global_allocators()) {
        if (contains(object, allocator.loaded_as) &&
            (allocator.sources_under.empty() || contains(file, allocator.sources_under))) {
            return true;
        }
    }
    // The strategy's code, inlined into the workload or not: it is compiled from a strategies/
    // folder (the built-in ones; a plugin that keeps its strategies in one too).
    if (contains(file, "/strategies/")) return true;
    // The harness's global operator new, which counts allocator calls on their way to malloc, and
    // std::allocator's glue to it (a container's own work, its copies, is not allocation).
    if (file.ends_with("harness/counting_new.cpp") || contains(file, "harness/alloc_counters")) return true;
    return file.ends_with("bits/new_allocator.h") || file.ends_with("bits/allocator.h");
}

instruction_split split_callgrind_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("callgrind wrote no output file " + path);
    name_table files, objects, functions;
    std::string object, function_file, file, line;
    std::size_t positions = 1;              // "positions: line", or "instr line" with --dump-instr
    std::vector<std::string> events{"Ir"};  // "events: Ir Dr Dw I1mr ..." with --cache-sim=yes
    bool next_is_call_cost = false;
    std::vector<double> stated;  // the totals line's counts, event by event
    instruction_split split;
    auto value_after = [](const std::string& text, std::size_t prefix) { return text.substr(prefix); };
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        const char first = line[0];
        if (std::isdigit(static_cast<unsigned char>(first)) || first == '+' || first == '-' || first == '*') {
            if (next_is_call_cost) {  // a call's inclusive cost: the callee's own lines count it
                next_is_call_cost = false;
                continue;
            }
            std::istringstream fields(line);
            std::string field;
            for (std::size_t i = 0; i < positions && fields >> field; ++i) {}
            // The events in the order the file named them; a line leaves out its trailing zeros.
            for (std::size_t event = 0; event < events.size() && fields >> field; ++event) {
                const double count = std::stod(field);
                if (event == 0) {
                    split.total += count;
                    if (is_allocation_code(object, file)) split.allocation += count;
                } else {
                    split.events[events[event]] += count;
                }
            }
            continue;
        }
        if (line.rfind("ob=", 0) == 0) {
            object = objects.resolve(value_after(line, 3));
        } else if (line.rfind("fl=", 0) == 0) {
            function_file = file = files.resolve(value_after(line, 3));
        } else if (line.rfind("fi=", 0) == 0 || line.rfind("fe=", 0) == 0) {
            file = files.resolve(value_after(line, 3));  // inlined code from another file, and back
        } else if (line.rfind("fn=", 0) == 0) {
            functions.resolve(value_after(line, 3));
            file = function_file;
        } else if (line.rfind("cob=", 0) == 0) {
            objects.resolve(value_after(line, 4));
        } else if (line.rfind("cfi=", 0) == 0 || line.rfind("cfl=", 0) == 0) {
            files.resolve(value_after(line, 4));
        } else if (line.rfind("cfn=", 0) == 0) {
            functions.resolve(value_after(line, 4));
        } else if (line.rfind("calls=", 0) == 0) {
            next_is_call_cost = true;
        } else if (line.rfind("positions:", 0) == 0) {
            std::istringstream kinds(value_after(line, 10));
            positions = 0;
            for (std::string kind; kinds >> kind;) ++positions;
        } else if (line.rfind("events:", 0) == 0) {
            std::istringstream names(value_after(line, 7));
            events.clear();
            for (std::string name; names >> name;) events.push_back(name);
            if (events.empty() || events.front() != "Ir") {
                throw std::runtime_error(path +
                                         " does not count instructions (Ir) first: events:" + value_after(line, 7));
            }
        } else if (line.rfind("totals:", 0) == 0 || line.rfind("summary:", 0) == 0) {
            std::istringstream counts(line.substr(line.find(':') + 1));
            stated.clear();
            for (double count; counts >> count;) stated.push_back(count);
        }
    }
    // The file states its own totals: a reading that does not add up to them is wrong.
    for (std::size_t event = 0; event < stated.size() && event < events.size(); ++event) {
        const double read = event == 0 ? split.total : split.events[events[event]];
        if (std::abs(stated[event] - read) > 0.5) {
            throw std::runtime_error(fmt::format("reading {} gave {} {} where the file states {}", path, read,
                                                 event == 0 ? "instructions" : events[event], stated[event]));
        }
    }
    return split;
}

}  // namespace allocproof::driver
