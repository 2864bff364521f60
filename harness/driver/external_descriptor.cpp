// Descriptors of external workloads: reading and validating them, and what `list` shows.
#include "harness/driver/external.hpp"

#include "allocproof/registry.hpp"
#include "harness/driver/matrix.hpp"

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

// The {name} placeholders of a template.
std::vector<std::string> placeholders(const std::string& text) {
    std::vector<std::string> names;
    for (std::size_t open = text.find('{'); open != std::string::npos; open = text.find('{', open + 1)) {
        auto close = text.find('}', open);
        if (close == std::string::npos) break;
        names.push_back(text.substr(open + 1, close - open - 1));
    }
    return names;
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

external_spec parse_descriptor(const json& j, const std::string& origin) {
    external_spec spec;
    spec.origin = origin;
    reader r(j, origin, "");
    spec.name = r.text("name");
    if (!valid_name(spec.name)) r.fail(fmt::format("name '{}' must be 1-40 of a-z, 0-9, _", spec.name));
    spec.summary = r.text("summary");
    spec.package = r.text("package", false);
    if (r.has("threads")) {
        const json& t = j.at("threads");
        if (!t.is_number_unsigned() || t.get<unsigned>() == 0 || t.get<unsigned>() > 4096) {
            r.fail("\"threads\" must be a whole number in 1..4096");
        }
        spec.threads = t.get<unsigned>();
    }
    spec.threads_note = r.text("threads_note", false);

    const json& scales = r.object("scales");
    std::set<std::string> variable_names;
    std::vector<std::string> present = scale_names;
    for (const auto& scale : optional_scale_names) {
        if (scales.contains(scale)) present.push_back(scale);
    }
    // A whole number or a string, as every variable; `what` names it in the error.
    auto variable_value = [&](const json& value, const std::string& what) {
        if (value.is_number_unsigned()) return std::to_string(value.get<std::uint64_t>());
        if (value.is_string()) return value.get<std::string>();
        r.fail(fmt::format("{} must be a whole number or a string", what));
    };
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
            spec.scales[scale][name] = variable_value(value, fmt::format("scale variable '{}'", name));
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

    spec.command = r.command("command");
    if (r.has("server")) {
        reader s(j.at("server"), origin, "\"server\"");
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
        if (spec.server) r.fail("\"idle\" is for a program that is not a server (a server's idle footprint is read "
                                "when it first answers)");
        const json& idle = r.object("idle");
        for (const auto& [name, value] : idle.items()) {
            if (!variable_names.contains(name)) {
                r.fail(fmt::format("\"idle\" replaces '{}', which is not a scale variable", name));
            }
            spec.idle[name] = variable_value(value, fmt::format("\"idle\".{}", name));
        }
    }
    if (r.has("input")) {
        reader in(j.at("input"), origin, "\"input\"");
        spec.input_generator = in.text("generator");
        if (spec.input_generator != "sql_mix") in.fail("\"generator\" must be \"sql_mix\"");
        in.no_other_keys();
    }
    if (r.has("throughput")) {
        reader t(j.at("throughput"), origin, "\"throughput\"");
        spec.throughput_regex = t.text("regex", false);
        spec.throughput_count = t.text("count_per_second_of_wall", false);
        spec.throughput_unit = t.text("unit");
        if (spec.throughput_regex.empty() == spec.throughput_count.empty()) {
            t.fail("needs one of \"regex\" (on the program's output) and \"count_per_second_of_wall\"");
        }
        t.no_other_keys();
    }
    if (r.has("checks")) {
        if (!j.at("checks").is_array()) r.fail("\"checks\" must be an array");
        for (std::size_t i = 0; i < j.at("checks").size(); ++i) {
            reader c(j.at("checks")[i], origin, fmt::format("\"checks\"[{}]", i));
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
                const json& m = j.at("checks")[i].at("matches");
                if (m.is_number_unsigned()) check.matches = std::to_string(m.get<unsigned>());
                else if (m.is_string() && !placeholders(m.get<std::string>()).empty()) check.matches = m.get<std::string>();
                else c.fail("\"matches\" must be a whole number or a template of one, e.g. \"{steps}\"");
            }
            c.no_other_keys();
            spec.checks.push_back(std::move(check));
        }
    }
    if (r.has("report")) {
        if (!spec.server || spec.server->after_command.empty()) r.fail("\"report\" needs a server after_command");
        const json& report = r.object("report");
        for (const auto& [name, regex] : report.items()) {
            if (!regex.is_string()) r.fail(fmt::format("\"report\".{} must be a regex string", name));
            spec.report[name] = regex.get<std::string>();
        }
    }
    if (r.has("digest")) {
        if (j.at("digest") != "stdout") r.fail("\"digest\" can only be \"stdout\"");
        spec.digest_stdout = true;
    }
    spec.probe = r.command("probe", false);
    r.no_other_keys();

    // Every regex compiles and every placeholder is defined, so that no cell fails for a typo.
    auto compile = [&](const std::string& regex, const std::string& what) {
        try {
            std::regex compiled(regex);
            return compiled.mark_count();
        } catch (const std::regex_error& e) {
            r.fail(fmt::format("{} '{}' is not a valid regex ({})", what, regex, e.what()));
        }
    };
    if (!spec.throughput_regex.empty()) {
        auto groups = compile(spec.throughput_regex, "\"throughput\".regex");
        if (groups < 1 || groups > 2) {
            r.fail("\"throughput\".regex needs one group (the value) or two (a label, then the value)");
        }
    }
    for (const auto& check : spec.checks) {
        if (compile(check.regex, "a check's regex") < 1) r.fail("a check's regex needs a group (the number)");
    }
    for (const auto& [name, regex] : spec.report) {
        if (compile(regex, "\"report\"." + name) < 1) r.fail(fmt::format("\"report\".{} needs a group", name));
    }
    std::vector<std::string> templates = spec.command;
    if (spec.server) {
        for (const auto* argv : {&spec.server->command, &spec.server->ready_command, &spec.server->after_command,
                                 &spec.server->stop_command}) {
            templates.insert(templates.end(), argv->begin(), argv->end());
        }
    }
    for (const auto& check : spec.checks) templates.push_back(check.equals + check.at_least + check.matches);
    templates.push_back(spec.throughput_count);
    for (const auto& t : templates) {
        for (const auto& name : placeholders(t)) {
            const bool generated = name == "statements" && spec.input_generator == "sql_mix";
            if (!variable_names.contains(name) && !generated &&
                std::ranges::find(builtin_variables, name) == builtin_variables.end()) {
                r.fail(fmt::format("'{}' uses {{{}}}, which is neither a scale variable nor one of {{tmpdir}}, "
                                   "{{seed}}, {{port}}, {{threads}}",
                                   t, name));
            }
        }
    }
    if (spec.input_generator == "sql_mix") {
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
    for (const auto& a : spec.command) {
        for (const auto& name : placeholders(a)) {
            if (std::ranges::find(builtin_variables, name) == builtin_variables.end()) {
                throw descriptor_error(origin, fmt::format("uses {{{}}}: a command may use {{tmpdir}}, {{seed}}, "
                                                           "{{port}}, {{threads}}",
                                                           name));
            }
        }
    }
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

std::string find_program(const std::string& name) {
    if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : std::string();
    const char* path = std::getenv("PATH");
    std::string directories = path != nullptr && *path != '\0' ? path : "/usr/local/bin:/usr/bin:/bin";
    directories += ":/usr/sbin:/sbin";  // redis-server is in /usr/bin, but some programs live here
    std::stringstream list(directories);
    std::string directory;
    while (std::getline(list, directory, ':')) {
        if (directory.empty()) continue;
        fs::path candidate = fs::path(directory) / name;
        if (::access(candidate.c_str(), X_OK) == 0 && fs::is_regular_file(candidate)) return candidate.string();
    }
    return {};
}

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

std::vector<std::shared_ptr<const external_spec>> load_external_specs(
    const std::vector<std::string>& descriptor_files, const std::vector<std::string>& commands) {
    std::vector<fs::path> files;
    const fs::path folder = fs::path(ALLOCPROOF_SOURCE_DIR) / "workloads" / "external";
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
        if (registry::instance().find_workload(spec.name) != nullptr || !names.insert(spec.name).second) {
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
