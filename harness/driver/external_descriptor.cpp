// Descriptors of external workloads: reading and validating them, and what `list` shows.
#include "harness/driver/external.hpp"

#include "harness/driver/child_process.hpp"
#include "harness/driver/exit_codes.hpp"
#include "harness/driver/text_template.hpp"
#include "harness/driver/matrix_catalogue.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace allocproof::driver {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// ---- descriptors --------------------------------------------------------------------------------

const std::vector<std::string> scale_names = {"default", "quick", "test"};
// Sizes a descriptor may add, for --real-program-sizes: a run's scale does not choose them.
const std::vector<std::string> optional_scale_names = {"full"};
// Placeholders every command may use besides the scale's own variables.
const std::vector<std::string> builtin_variables = {"tmpdir", "seed", "port", "threads"};

struct descriptor_error : usage_error {
    descriptor_error(const std::string& origin, const std::string& what)
        : usage_error(fmt::format("external workload {}: {}", origin, what)) {}
};

bool valid_name(const std::string& name) {
    return !name.empty() && name.size() <= 40 &&
           name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos;
}

class reader {
public:
    reader(const json& j, std::string origin, std::string where)
        : j_(j), origin_(std::move(origin)), where_(std::move(where)) {
        if (!j_.is_object()) fail("is not a JSON object");
    }
    [[noreturn]] void fail(const std::string& what) const {
        throw descriptor_error(origin_, where_.empty() ? what : where_ + " " + what);
    }
    // A reader of the object at `key`, which errors call `where`.
    reader nested(const char* key, std::string where) const { return reader(j_.at(key), origin_, std::move(where)); }
    const json& at(const char* key) const { return j_.at(key); }
    bool has(const char* key) {
        seen_.insert(key);
        return j_.contains(key) && !j_.at(key).is_null();
    }
    std::string text(const char* key, bool required = true) {
        if (!has(key)) {
            if (required) fail(fmt::format("needs \"{}\" (a string)", key));
            return {};
        }
        if (!j_.at(key).is_string()) fail(fmt::format("\"{}\" must be a string", key));
        return j_.at(key).get<std::string>();
    }
    std::vector<std::string> command(const char* key, bool required = true) {
        if (!has(key)) {
            if (required) fail(fmt::format("needs \"{}\" (an array of strings: program and arguments)", key));
            return {};
        }
        const json& v = j_.at(key);
        if (!v.is_array() || v.empty() || !std::ranges::all_of(v, [](const json& a) { return a.is_string(); }) ||
            v.at(0).get<std::string>().empty()) {
            fail(fmt::format("\"{}\" must be a non-empty array of strings, the program first", key));
        }
        return v.get<std::vector<std::string>>();
    }
    const json& object(const char* key) {
        if (!has(key) || !j_.at(key).is_object()) fail(fmt::format("needs \"{}\" (an object)", key));
        return j_.at(key);
    }
    // A variable's value: a whole number or a string; `what` names it in the error.
    std::string variable_value(const json& value, const std::string& what) const {
        if (value.is_number_unsigned()) return std::to_string(value.get<std::uint64_t>());
        if (value.is_string()) return value.get<std::string>();
        fail(fmt::format("{} must be a whole number or a string", what));
    }
    // The placeholders of a template; one that cannot be read fails.
    std::vector<std::string> placeholders_of(const std::string& text) const {
        try {
            return placeholders(text);
        } catch (const template_error& e) {
            fail(e.what());
        }
    }
    void no_other_keys() const {
        for (const auto& [key, value] : j_.items()) {
            if (!seen_.contains(key)) fail(fmt::format("has an unknown key \"{}\"", key));
        }
    }

private:
    const json& j_;
    std::string origin_, where_;
    std::set<std::string> seen_;
};

// Fails unless every placeholder of `templates` names a variable of `defined`.
void check_placeholders(const reader& r, const std::vector<std::string>& templates,
                        const std::set<std::string>& defined) {
    for (const auto& t : templates) {
        for (const auto& name : r.placeholders_of(t)) {
            if (defined.contains(name)) continue;
            std::vector<std::string> known;
            for (const auto& d : defined) known.push_back("{" + d + "}");
            r.fail(fmt::format("'{}' uses {{{}}}, which is none of {}", t, name, fmt::join(known, ", ")));
        }
    }
}

void parse_header(reader& r, external_spec& spec) {
    spec.name = r.text("name");
    if (!valid_name(spec.name)) r.fail(fmt::format("name '{}' must be 1-40 of a-z, 0-9, _", spec.name));
    spec.summary = r.text("summary");
    spec.package = r.text("package", false);
    if (r.has("threads")) {
        const json& t = r.at("threads");
        if (!t.is_number_unsigned() || t.get<unsigned>() == 0 || t.get<unsigned>() > 4096) {
            r.fail("\"threads\" must be a whole number in 1..4096");
        }
        spec.threads = t.get<unsigned>();
    }
    spec.threads_note = r.text("threads_note", false);
}

// The scales' variables; returns their names, which every scale defines alike.
std::set<std::string> parse_scales(reader& r, external_spec& spec) {
    const json& scales = r.object("scales");
    std::set<std::string> variable_names;
    std::vector<std::string> present = scale_names;
    for (const auto& scale : optional_scale_names) {
        if (scales.contains(scale)) present.push_back(scale);
    }
    for (const auto& scale : present) {
        if (!scales.contains(scale) || !scales.at(scale).is_object()) {
            r.fail(fmt::format("\"scales\" needs \"{}\" (an object of variables)", scale));
        }
        std::set<std::string> names;
        for (const auto& [name, value] : scales.at(scale).items()) {
            if (!valid_name(name)) r.fail(fmt::format("scale variable '{}' must be of a-z, 0-9, _", name));
            if (std::ranges::find(builtin_variables, name) != builtin_variables.end()) {
                r.fail(fmt::format("scale variable '{}' is reserved", name));
            }
            spec.scales[scale][name] = r.variable_value(value, fmt::format("scale variable '{}'", name));
            names.insert(name);
        }
        if (scale == scale_names.front()) variable_names = names;
        else if (names != variable_names) {
            r.fail(fmt::format("\"scales\": \"{}\" and \"default\" must define the same variables", scale));
        }
    }
    for (const auto& [key, value] : scales.items()) {
        if (std::ranges::find(present, key) == present.end()) {
            r.fail(fmt::format("\"scales\" has an unknown scale \"{}\" (default, quick, test, full)", key));
        }
    }
    return variable_names;
}

// "server", "idle" and "input": how the program runs.
void parse_running(reader& r, external_spec& spec, const std::set<std::string>& variable_names) {
    if (r.has("server")) {
        reader s = r.nested("server", "\"server\"");
        external_server server;
        server.command = s.command("command");
        server.ready_command = s.command("ready_command");
        server.ready_expect = s.text("ready_expect");
        server.after_command = s.command("after_command", false);
        server.stop_command = s.command("stop_command", false);
        s.no_other_keys();
        spec.server = std::move(server);
    }
    if (r.has("idle")) {
        if (spec.server)
            r.fail(
                "\"idle\" is for a program that is not a server (a server's idle footprint is read "
                "when it first answers)");
        for (const auto& [name, value] : r.object("idle").items()) {
            if (!variable_names.contains(name)) {
                r.fail(fmt::format("\"idle\" replaces '{}', which is not a scale variable", name));
            }
            spec.idle[name] = r.variable_value(value, fmt::format("\"idle\".{}", name));
        }
    }
    if (r.has("input")) {
        reader in = r.nested("input", "\"input\"");
        spec.input_generator = in.text("generator");
        if (spec.input_generator != "sql_mix") in.fail("\"generator\" must be \"sql_mix\"");
        in.no_other_keys();
    }
}

external_check parse_check(reader& c, const external_spec& spec) {
    external_check check;
    check.source = c.text("source", false);
    if (check.source.empty()) check.source = "stdout";
    if (check.source != "stdout" && check.source != "after") c.fail("\"source\" must be stdout or after");
    if (check.source == "after" && (!spec.server || spec.server->after_command.empty())) {
        c.fail("reads \"after\", but there is no server after_command");
    }
    check.regex = c.text("regex");
    check.equals = c.text("equals", false);
    check.at_least = c.text("at_least", false);
    if (check.equals.empty() == check.at_least.empty()) c.fail("needs one of \"equals\" and \"at_least\"");
    if (c.has("matches")) {
        const json& m = c.at("matches");
        if (m.is_number_unsigned()) check.matches = std::to_string(m.get<unsigned>());
        else if (m.is_string() && !c.placeholders_of(m.get<std::string>()).empty())
            check.matches = m.get<std::string>();
        else c.fail("\"matches\" must be a whole number or a template of one, e.g. \"{steps}\"");
    }
    c.no_other_keys();
    return check;
}

// "throughput", "checks", "report" and "digest": what is read from the output.
void parse_readings(reader& r, external_spec& spec) {
    if (r.has("throughput")) {
        reader t = r.nested("throughput", "\"throughput\"");
        spec.throughput_regex = t.text("regex", false);
        spec.throughput_count = t.text("count_per_second_of_wall", false);
        spec.throughput_unit = t.text("unit");
        if (spec.throughput_regex.empty() == spec.throughput_count.empty()) {
            t.fail("needs one of \"regex\" (on the program's output) and \"count_per_second_of_wall\"");
        }
        t.no_other_keys();
    }
    if (r.has("checks")) {
        const json& checks = r.at("checks");
        if (!checks.is_array()) r.fail("\"checks\" must be an array");
        for (std::size_t i = 0; i < checks.size(); ++i) {
            reader c(checks[i], spec.origin, fmt::format("\"checks\"[{}]", i));
            spec.checks.push_back(parse_check(c, spec));
        }
    }
    if (r.has("report")) {
        if (!spec.server || spec.server->after_command.empty()) r.fail("\"report\" needs a server after_command");
        for (const auto& [name, regex] : r.object("report").items()) {
            if (!regex.is_string()) r.fail(fmt::format("\"report\".{} must be a regex string", name));
            spec.report[name] = regex.get<std::string>();
        }
    }
    if (r.has("digest")) {
        if (r.at("digest") != "stdout") r.fail("\"digest\" can only be \"stdout\"");
        spec.digest_stdout = true;
    }
}

// Every regex compiles, with the groups it needs, so that no cell fails for a typo.
void check_regexes(const reader& r, const external_spec& spec) {
    auto groups = [&](const std::string& regex, const std::string& what) {
        try {
            return std::regex(regex).mark_count();
        } catch (const std::regex_error& e) {
            r.fail(fmt::format("{} '{}' is not a valid regex ({})", what, regex, e.what()));
        }
    };
    if (!spec.throughput_regex.empty()) {
        const auto count = groups(spec.throughput_regex, "\"throughput\".regex");
        if (count < 1 || count > 2) {
            r.fail("\"throughput\".regex needs one group (the value) or two (a label, then the value)");
        }
    }
    for (const auto& check : spec.checks) {
        if (groups(check.regex, "a check's regex") < 1) r.fail("a check's regex needs a group (the number)");
    }
    for (const auto& [name, regex] : spec.report) {
        if (groups(regex, "\"report\"." + name) < 1) r.fail(fmt::format("\"report\".{} needs a group", name));
    }
}

// Every template's placeholders are defined: the scale's variables, the built-in ones, and
// {statements} for generated input.
void check_templates(const reader& r, const external_spec& spec, std::set<std::string> defined) {
    defined.insert(builtin_variables.begin(), builtin_variables.end());
    if (spec.input_generator == "sql_mix") defined.insert("statements");
    std::vector<std::string> templates = spec.command;
    if (spec.server) {
        for (const auto* argv : {&spec.server->command, &spec.server->ready_command, &spec.server->after_command,
                                 &spec.server->stop_command}) {
            templates.insert(templates.end(), argv->begin(), argv->end());
        }
    }
    for (const auto& check : spec.checks) {
        for (const auto* t : {&check.equals, &check.at_least, &check.matches}) templates.push_back(*t);
    }
    templates.push_back(spec.throughput_count);
    check_placeholders(r, templates, defined);
}

void check_sql_mix(const reader& r, const external_spec& spec, const std::set<std::string>& variable_names) {
    if (spec.input_generator != "sql_mix") return;
    if (!variable_names.contains("rows")) r.fail("the sql_mix input needs a scale variable \"rows\"");
    for (const char* size : {"rows", "rounds", "cache_mib"}) {
        for (const auto& [scale, variables] : spec.scales) {
            auto found = variables.find(size);
            if (found != variables.end() &&
                (found->second.empty() || found->second.find_first_not_of("0123456789") != std::string::npos)) {
                r.fail(fmt::format("the sql_mix input's \"{}\" must be a whole number (scale {})", size, scale));
            }
        }
    }
}

// Reads a descriptor strictly: unknown keys are refused, so that a typo does not silently drop
// a check.
external_spec parse_descriptor(const json& j, const std::string& origin) {
    external_spec spec;
    spec.origin = origin;
    reader r(j, origin, "");
    parse_header(r, spec);
    const std::set<std::string> variable_names = parse_scales(r, spec);
    spec.command = r.command("command");
    parse_running(r, spec, variable_names);
    parse_readings(r, spec);
    spec.probe = r.command("probe", false);
    r.no_other_keys();
    check_regexes(r, spec);
    check_templates(r, spec, variable_names);
    check_sql_mix(r, spec, variable_names);
    return spec;
}

// "name=program arg 'quoted arg' ..." from --external: words split on blanks, with '...' and
// "..." quoting and backslash escapes; no shell runs, so the rusage is the program's own.
external_spec parse_command(const std::string& text) {
    const std::string origin = fmt::format("--external '{}'", text);
    auto equals = text.find('=');
    if (equals == std::string::npos) {
        throw descriptor_error(origin, "expected NAME=COMMAND, e.g. mytool=/usr/bin/foo --bench {tmpdir}");
    }
    external_spec spec;
    spec.origin = "--external";
    spec.name = text.substr(0, equals);
    if (!valid_name(spec.name)) {
        throw descriptor_error(origin, fmt::format("name '{}' must be 1-40 of a-z, 0-9, _", spec.name));
    }
    std::string word;
    bool in_word = false;
    char quote = 0;
    for (std::size_t i = equals + 1; i < text.size(); ++i) {
        char c = text[i];
        if (quote != 0) {
            if (c == quote) quote = 0;
            else if (c == '\\' && quote == '"' && i + 1 < text.size()) word += text[++i];
            else word += c;
        } else if (c == '\'' || c == '"') {
            quote = c;
            in_word = true;
        } else if (c == '\\' && i + 1 < text.size()) {
            word += text[++i];
            in_word = true;
        } else if (c == ' ' || c == '\t') {
            if (in_word) spec.command.push_back(word);
            word.clear();
            in_word = false;
        } else {
            word += c;
            in_word = true;
        }
    }
    if (quote != 0) throw descriptor_error(origin, "has an unclosed quote");
    if (in_word) spec.command.push_back(word);
    if (spec.command.empty()) throw descriptor_error(origin, "has no command after '='");
    const json none = json::object();  // a command has no keys of its own: the reader only reports
    check_placeholders(reader(none, origin, ""), spec.command,
                       std::set<std::string>(builtin_variables.begin(), builtin_variables.end()));
    spec.summary = "user command: " + text.substr(equals + 1);
    for (const auto& scale : scale_names) spec.scales[scale] = {};
    return spec;
}

json read_json_file(const fs::path& path) {
    std::ifstream in(path);
    if (!in) throw descriptor_error(path.string(), "cannot be read");
    try {
        return json::parse(in);
    } catch (const json::exception& e) {
        std::string what = e.what();
        throw descriptor_error(path.string(), "is not valid JSON (" + what.substr(what.find(']') + 2) + ")");
    }
}

}  // namespace

// ---- public -------------------------------------------------------------------------------------

std::string external_scale(const external_spec& spec, const std::string& scale, const std::string& sizes) {
    if (sizes == "full") return spec.scales.contains("full") ? "full" : "default";
    return scale;
}

std::string scale_note(const external_spec& spec, const std::string& sizes) {
    if (sizes != "full" || spec.scales.contains("full")) return {};
    return fmt::format("--real-program-sizes full, but {} has no full scale: it ran at its default scale", spec.origin);
}

std::vector<std::string> external_spec::programs() const {
    std::vector<std::string> names;
    auto add = [&](const std::vector<std::string>& argv) {
        if (!argv.empty() && std::ranges::find(names, argv.front()) == names.end()) names.push_back(argv.front());
    };
    if (server) {
        add(server->command);
        add(server->ready_command);
    }
    add(command);
    if (server) {
        add(server->after_command);
        add(server->stop_command);
    }
    return names;
}

std::vector<std::string> missing_programs(const external_spec& spec) {
    std::vector<std::string> missing;
    for (const auto& name : spec.programs()) {
        if (find_program(name).empty()) missing.push_back(name);
    }
    return missing;
}

namespace {

// The real programs' descriptors: installed beside the driver (<prefix>/share/allocproof/external,
// as `cmake --install` lays them out), or else this build's source tree.
fs::path descriptor_folder() {
    std::error_code error;
    const fs::path self = fs::read_symlink("/proc/self/exe", error);
    const fs::path installed = self.parent_path() / ALLOCPROOF_DATA_FROM_BIN / "external";
    if (!error && fs::is_directory(installed, error)) return installed;
    return fs::path(ALLOCPROOF_SOURCE_DIR) / "workloads" / "external";
}

}  // namespace

std::vector<std::shared_ptr<const external_spec>> load_external_specs(const std::vector<std::string>& descriptor_files,
                                                                      const std::vector<std::string>& commands) {
    std::vector<fs::path> files;
    const fs::path folder = descriptor_folder();
    std::error_code error;
    if (fs::is_directory(folder, error)) {
        for (const auto& entry : fs::directory_iterator(folder)) {
            if (entry.path().extension() == ".json") files.push_back(entry.path());
        }
    }
    std::ranges::sort(files);
    for (const auto& f : descriptor_files) files.emplace_back(f);

    std::vector<std::shared_ptr<const external_spec>> specs;
    std::set<std::string> names;
    auto add = [&](external_spec spec) {
        if (catalogue().find_workload(spec.name) != nullptr || !names.insert(spec.name).second) {
            throw descriptor_error(spec.origin, fmt::format("the name '{}' is taken by another workload", spec.name));
        }
        specs.push_back(std::make_shared<const external_spec>(std::move(spec)));
    };
    for (const auto& file : files) add(parse_descriptor(read_json_file(file), file.string()));
    for (const auto& command : commands) add(parse_command(command));
    return specs;
}

json external_list_json(const std::vector<std::shared_ptr<const external_spec>>& specs) {
    json list = json::array();
    for (const auto& spec : specs) {
        std::string path = find_program(spec->program());
        const auto missing = missing_programs(*spec);
        list.push_back({{"name", spec->name},
                        {"summary", spec->summary},
                        {"program", spec->program()},
                        {"programs", spec->programs()},
                        {"installed", missing.empty()},
                        {"missing", missing},
                        {"path", path.empty() ? json(nullptr) : json(path)},
                        {"package", spec->package},
                        {"threads", spec->threads},
                        {"strategy", external_strategy},
                        {"descriptor", spec->origin}});
    }
    return list;
}

json external_cell_info(const external_spec& spec) {
    return {{"program", spec.program()},
            {"package", spec.package},
            {"descriptor", spec.origin},
            {"program_threads", spec.threads},
            {"threads_note", spec.threads_note},
            {"throughput_unit", spec.throughput_unit.empty() ? json(nullptr) : json(spec.throughput_unit)},
            {"server", spec.server.has_value()}};
}

}  // namespace allocproof::driver
