#include "harness/traits_json.hpp"

#include <algorithm>

namespace allocproof {

std::vector<std::string> strategy_families(const strategy_traits& s) {
    std::vector<std::string> names;
    if (s.provides_blocks) names.emplace_back("blocks");
    if (s.provides_vector) names.emplace_back("vector");
    if (s.provides_object_pool) names.emplace_back("object_pool");
    if (s.provides_buffers) names.emplace_back("buffers");
    return names;
}

nlohmann::json traits_to_json(const strategy_traits& s) {
    return {{"name", s.name},
            {"summary", s.summary},
            {"origin", s.origin},
            {"families", strategy_families(s)},
            {"frees_individually", s.frees_individually},
            {"thread_safe", s.thread_safe},
            {"cross_thread_free", s.cross_thread_free},
            {"fixed_size", s.fixed_size},
            {"may_refuse", s.may_refuse},
            {"max_alignment", s.max_alignment}};
}

strategy_traits traits_from_json(const nlohmann::json& j, std::deque<std::string>& storage) {
    auto text = [&](const char* key) -> std::string_view {
        return storage.emplace_back(j.at(key).get<std::string>());
    };
    const auto families = j.at("families").get<std::vector<std::string>>();
    auto provides = [&](const char* family) { return std::ranges::find(families, family) != families.end(); };
    strategy_traits s;
    s.name = text("name");
    s.summary = text("summary");
    s.origin = text("origin");
    s.provides_blocks = provides("blocks");
    s.provides_vector = provides("vector");
    s.provides_object_pool = provides("object_pool");
    s.provides_buffers = provides("buffers");
    s.frees_individually = j.at("frees_individually").get<bool>();
    s.thread_safe = j.at("thread_safe").get<bool>();
    s.cross_thread_free = j.at("cross_thread_free").get<bool>();
    s.fixed_size = j.at("fixed_size").get<bool>();
    s.may_refuse = j.at("may_refuse").get<bool>();
    s.max_alignment = j.at("max_alignment").get<std::size_t>();
    return s;
}

}  // namespace allocproof
