#include "harness/driver/results_file.hpp"

#include "harness/driver/exit_codes.hpp"  // usage_error

#include <fmt/format.h>
#include <zlib.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace allocproof::driver {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// gzread passes a file that is not gzip-compressed through unchanged, so one reader serves both.
std::string read_maybe_compressed(const fs::path& file) {
    gzFile in = gzopen(file.c_str(), "rb");
    if (in == nullptr) {
        throw usage_error(fmt::format("cannot open {}: {}", file.string(), std::strerror(errno)));
    }
    gzbuffer(in, 1 << 20);
    std::string text;
    std::vector<char> chunk(1 << 20);
    int got = 0;
    while ((got = gzread(in, chunk.data(), static_cast<unsigned>(chunk.size()))) > 0) {
        text.append(chunk.data(), static_cast<std::size_t>(got));
    }
    int code = Z_OK;
    std::string problem = gzerror(in, &code);
    // A stream cut short shows only at the close: the data so far came back without an error.
    const int closed = gzclose(in);
    if (got < 0 || code != Z_OK || closed != Z_OK) {
        if (problem.empty() || code == Z_OK)
            problem = closed == Z_BUF_ERROR ? "unexpected end of file" : zError(closed);
        throw usage_error(
            fmt::format("cannot read {}: {} (a damaged or truncated gzip file?)", file.string(), problem));
    }
    return text;
}

json parse_results(const fs::path& file, const std::string& text, bool keep_raw) {
    json::parser_callback_t drop_raw = [keep_raw](int, json::parse_event_t event, json& parsed) {
        return keep_raw || !(event == json::parse_event_t::key && parsed == "raw");
    };
    try {
        return json::parse(text, drop_raw);
    } catch (const json::exception& error) {
        std::string what = error.what();
        throw usage_error(fmt::format("{} is not valid JSON ({})", file.string(), what.substr(what.find(']') + 2)));
    }
}

// What every reader relies on in a cell; the rest of a cell each command reads its own way.
void check_cell(const fs::path& file, const json& cell, std::size_t i) {
    auto malformed = [&](const std::string& what) {
        return usage_error(fmt::format("{} is malformed: cells[{}] {}", file.string(), i, what));
    };
    if (!cell.is_object() || !cell.contains("id") || !cell.at("id").is_string()) throw malformed("has no string id");
    if (!cell.contains("status") || !cell.at("status").is_string()) throw malformed("has no string status");
    if (cell.contains("machine")) {
        const json& machine = cell.at("machine");
        if (!machine.is_number_integer() || machine.get<long long>() < 0) {
            throw malformed("has a machine that is not a non-negative integer");
        }
    }
    const bool has_repetitions = cell.contains("repetitions") && cell.at("repetitions").is_array();
    if (cell.contains("repetitions") && !has_repetitions) throw malformed("has repetitions that are not an array");
    if (cell.at("status") == "ok" && !has_repetitions) throw malformed("is ok but has no repetitions array");
}

void check_document(const fs::path& file, const json& document) {
    // json::value() throws when the key holds another type ({"tool": [...]}): compare as JSON instead.
    if (!document.is_object() || !document.contains("tool") || document["tool"] != json("allocproof") ||
        !document.contains("schema_version")) {
        throw usage_error(fmt::format(
            "{} is not an allocproof results file (no tool \"allocproof\" and schema_version)", file.string()));
    }
    const json& version = document.at("schema_version");
    if (!version.is_number_integer() || version.get<long long>() != results_schema_version) {
        throw usage_error(fmt::format("{} has schema_version {}, this allocproof reads schema_version {}",
                                      file.string(), version.dump(), results_schema_version));
    }
    if (!document.contains("cells") || !document.at("cells").is_array()) {
        throw usage_error(fmt::format("{} is malformed: no cells array", file.string()));
    }
    const json& cells = document.at("cells");
    for (std::size_t i = 0; i < cells.size(); ++i) check_cell(file, cells[i], i);
}

[[noreturn]] void throw_write_error(const std::string& what, const std::string& file, int error) {
    throw std::runtime_error(fmt::format("cannot {} {}: {}", what, file, std::strerror(error)));
}

}  // namespace

fs::path results_file_of(const fs::path& given) {
    std::error_code error;
    if (!fs::exists(given, error)) {
        throw usage_error(fmt::format("{} does not exist", given.string()));
    }
    if (!fs::is_directory(given, error)) return given;
    for (const char* name : {"results.json", "results.json.gz"}) {
        if (fs::exists(given / name, error)) return given / name;
    }
    throw usage_error(fmt::format("{} is a folder without results.json or results.json.gz", given.string()));
}

json load_results(const fs::path& folder_or_file, fs::path* file_read, bool keep_raw) {
    const fs::path file = results_file_of(folder_or_file);
    if (file_read != nullptr) *file_read = file;
    json document = parse_results(file, read_maybe_compressed(file), keep_raw);
    check_document(file, document);
    return document;
}

void atomic_write(const fs::path& path, const std::string& content) {
    const auto temporary = path.string() + ".tmp";
    int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw_write_error("write", temporary, errno);
    std::size_t written = 0;
    while (written < content.size()) {
        ssize_t n = ::write(fd, content.data() + written, content.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int error = errno;
            ::close(fd);
            ::unlink(temporary.c_str());
            throw_write_error("write", temporary, error);
        }
        written += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        int error = errno;
        ::unlink(temporary.c_str());
        throw_write_error("write", temporary, error);
    }
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        int error = errno;
        ::unlink(temporary.c_str());
        throw_write_error("replace", path.string(), error);
    }
}

void results_journal::append(const std::string& cell_id, const json& record) const {
    std::ofstream journal(path_, std::ios::app);
    journal << json{{"cell", cell_id}, {"record", record}}.dump() << "\n";
    journal.flush();
    // errno is what the failed write left: ENOSPC on a full disk, EFBIG past a file size limit.
    if (!journal) throw_write_error("append to", path_.string(), errno);
}

void results_journal::replay(const std::function<void(const std::string&, const json&)>& take) const {
    std::ifstream journal(path_);
    if (!journal) return;
    std::string line;
    while (std::getline(journal, line)) {
        json entry = json::parse(line, nullptr, false);
        if (entry.is_discarded() || !entry.is_object() || !entry.contains("cell") || !entry["cell"].is_string() ||
            !entry.contains("record")) {
            continue;
        }
        take(entry["cell"].get<std::string>(), entry["record"]);
    }
}

void results_journal::remove() const {
    std::error_code error;
    fs::remove(path_, error);
}

}  // namespace allocproof::driver
