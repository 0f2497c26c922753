// Small file helpers for tests. They throw std::runtime_error on failure
// (Catch reports the message), except the readers, which treat a missing file
// as empty: tests poll for files that programs write later.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

namespace zlayer::testing {

// Creates or truncates `path` with `content` and permission bits `mode`.
void WriteFile(const std::string& path, std::string_view content, mode_t mode = 0644);
// WriteFile with mode 0755: an executable script (start `content` with "#!").
void WriteScript(const std::string& path, std::string_view content);
// The whole file, or "" when it does not exist or cannot be read.
std::string ReadFile(const std::string& path);
// The file's lines without their '\n'; empty when the file does not exist.
std::vector<std::string> ReadLines(const std::string& path);
std::vector<std::string> SplitLines(std::string_view text);
// Splits on runs of blanks (spaces, tabs).
std::vector<std::string> SplitWords(std::string_view text);
bool FileExists(const std::string& path);
void MakeFifo(const std::string& path);
// How many lines of `text` contain `needle`.
int CountLinesContaining(std::string_view text, std::string_view needle);

}  // namespace zlayer::testing
