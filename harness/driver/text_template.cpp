#include "harness/driver/text_template.hpp"

#include <fmt/format.h>

#include <functional>
#include <utility>

namespace allocproof::driver {

namespace {

// Walks `text`, handing each literal piece and each placeholder's name to `on_part` in order.
void parse(const std::string& text, const std::function<void(bool placeholder, std::string part)>& on_part) {
    std::string literal;
    for (std::size_t at = 0; at < text.size(); ++at) {
        const char c = text[at];
        const bool doubled = at + 1 < text.size() && text[at + 1] == c;
        if ((c == '{' || c == '}') && doubled) {
            literal += c;
            ++at;
        } else if (c == '{') {
            const auto close = text.find_first_of("{}", at + 1);
            if (close == std::string::npos || text[close] != '}') {
                throw template_error(fmt::format("'{}' has a '{{' without its '}}' (write {{{{ for a brace)", text));
            }
            if (close == at + 1) throw template_error(fmt::format("'{}' has an empty placeholder {{}}", text));
            if (!literal.empty()) on_part(false, std::exchange(literal, {}));
            on_part(true, text.substr(at + 1, close - at - 1));
            at = close;
        } else {
            literal += c;  // a lone '}' is a brace too: nothing could close with it
        }
    }
    if (!literal.empty()) on_part(false, literal);
}

}  // namespace

std::vector<std::string> placeholders(const std::string& text) {
    std::vector<std::string> names;
    parse(text, [&](bool placeholder, std::string part) {
        if (placeholder) names.push_back(std::move(part));
    });
    return names;
}

std::string substitute(const std::string& text, const std::map<std::string, std::string>& variables) {
    std::string out;
    parse(text, [&](bool placeholder, std::string part) {
        if (!placeholder) {
            out += part;
            return;
        }
        const auto found = variables.find(part);
        if (found == variables.end()) {
            throw template_error(fmt::format("'{}' uses {{{}}}, which is not defined", text, part));
        }
        out += found->second;
    });
    return out;
}

std::vector<std::string> substitute(const std::vector<std::string>& texts,
                                    const std::map<std::string, std::string>& variables) {
    std::vector<std::string> out;
    for (const auto& text : texts) out.push_back(substitute(text, variables));
    return out;
}

}  // namespace allocproof::driver
