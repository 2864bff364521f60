#include "harness/traits_json.hpp"

#include <algorithm>

namespace allocproof {

namespace {

nlohmann::json scale_json(const workload_scale& s) {
    return {{"ops_per_thread", s.ops_per_thread}, {"working_set", s.working_set}, {"warmup_ops", s.warmup_ops}};
}

workload_scale scale_from_json(const nlohmann::json& j) {
    return {j.at("ops_per_thread").get<std::uint64_t>(), j.at("working_set").get<std::uint64_t>(),
            j.at("warmup_ops").get<std::uint64_t>()};
}

std::string_view text_of(const nlohmann::json& j, const char* key, traits_text& storage) {
    return storage.strings.emplace_back(j.at(key).get<std::string>());
}

}  // namespace

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

nlohmann::json traits_to_json(const workload_traits& w) {
    return {{"name", w.name},
            {"summary", w.summary},
            {"families", w.families},
            {"claims", w.claims},
            {"variants", std::vector<std::string_view>(w.variants.begin(), w.variants.end())},
            {"quick_scale", scale_json(w.quick_scale)},
            {"default_scale", scale_json(w.default_scale)},
            {"test_scale", scale_json(w.test_scale)}};
}

strategy_traits strategy_traits_from_json(const nlohmann::json& j, traits_text& storage) {
    const auto families = j.at("families").get<std::vector<std::string>>();
    auto provides = [&](const char* family) { return std::ranges::find(families, family) != families.end(); };
    strategy_traits s;
    s.name = text_of(j, "name", storage);
    s.summary = text_of(j, "summary", storage);
    s.origin = text_of(j, "origin", storage);
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

workload_traits workload_traits_from_json(const nlohmann::json& j, traits_text& storage) {
    workload_traits w;
    w.name = text_of(j, "name", storage);
    w.summary = text_of(j, "summary", storage);
    w.families = text_of(j, "families", storage);
    w.claims = text_of(j, "claims", storage);
    auto& variants = storage.lists.emplace_back();
    for (const auto& variant : j.at("variants")) {
        variants.push_back(storage.strings.emplace_back(variant.get<std::string>()));
    }
    w.variants = variants;
    w.quick_scale = scale_from_json(j.at("quick_scale"));
    w.default_scale = scale_from_json(j.at("default_scale"));
    w.test_scale = scale_from_json(j.at("test_scale"));
    return w;
}

}  // namespace allocproof
