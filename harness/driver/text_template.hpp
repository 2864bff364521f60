// Templates of the real programs' descriptors: text with {name} placeholders, e.g.
// "--db={tmpdir}/db". `{{` and `}}` stand for a literal brace. One parser serves both the
// descriptor's check (which names a template uses) and the run (what it becomes).
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace allocproof::driver {

// A template that cannot be read (an unclosed '{', an empty name) or names a variable that is
// not defined. what() quotes the template and says what is wrong with it.
struct template_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The names of the placeholders of `text`, in order, repeats kept.
std::vector<std::string> placeholders(const std::string& text);

// `text` with every placeholder replaced by its variable's value.
std::string substitute(const std::string& text, const std::map<std::string, std::string>& variables);
std::vector<std::string> substitute(const std::vector<std::string>& texts,
                                    const std::map<std::string, std::string>& variables);

}  // namespace allocproof::driver
