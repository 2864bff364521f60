// What the fuzz targets share: a scratch file for parsers that read a path, splitting one fuzz
// input into several fields, and a way to report a broken invariant as a finding.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

namespace allocproof::fuzz {

// One private folder per fuzzing process, on tmpfs when there is one: the parsers of results
// files and descriptors take a path, and atomic_write's fsync costs nothing there.
inline const std::filesystem::path& scratch_folder() {
    static const std::filesystem::path folder = [] {
        std::string pattern = (std::filesystem::is_directory("/dev/shm") && ::access("/dev/shm", W_OK) == 0
                                   ? std::string("/dev/shm")
                                   : std::filesystem::temp_directory_path().string()) +
                              "/allocproof-fuzz-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) {
            std::perror("allocproof fuzz: mkdtemp");
            std::abort();
        }
        std::filesystem::path made = pattern;
        // libFuzzer leaves by exit(): the folder goes with the process's static objects.
        static struct remover {
            std::filesystem::path path;
            ~remover() {
                std::error_code ignored;
                std::filesystem::remove_all(path, ignored);
            }
        } cleanup{made};
        return made;
    }();
    return folder;
}

// Writes `content` to `name` in the scratch folder and returns its path.
inline std::filesystem::path scratch_file(const std::string& name, std::string_view content) {
    const auto path = scratch_folder() / name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    if (!out) {
        std::perror("allocproof fuzz: cannot write a scratch file");
        std::abort();
    }
    return path;
}

// The input cut at every '\n' into at most `count` fields (the last one keeps any further
// newlines); missing fields are empty. Mutations then move bytes between fields, not past them.
inline std::vector<std::string> fields(const std::uint8_t* data, std::size_t size, std::size_t count) {
    std::vector<std::string> out(count);
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    for (std::size_t i = 0; i + 1 < count && !rest.empty(); ++i) {
        const auto end = rest.find('\n');
        out[i] = std::string(rest.substr(0, end));
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    }
    out[count - 1] = std::string(rest);
    return out;
}

// A parser returned something its own contract rules out: a finding, like a crash.
[[noreturn]] inline void broken(const char* what, const std::string& detail) {
    std::fprintf(stderr, "allocproof fuzz: broken invariant: %s: %s\n", what, detail.c_str());
    std::abort();
}

}  // namespace allocproof::fuzz
