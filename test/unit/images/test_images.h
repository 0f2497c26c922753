// Test images for the image store's unit tests: built by scripts/build-test-image.sh
// (offline, cached) into a temporary directory, plus small tar helpers.
#pragma once

#include <string>

#include "test/support/temp_dir.h"

namespace zlayer::images::testing {

// A directory under /tmp removed (recursively) on destruction: test/support's.
using zlayer::testing::TempDir;

// Runs scripts/build-test-image.sh `options` `out` and returns the digest it
// prints. Fails the current test (with the script's stderr) if it fails.
std::string BuildTestImage(const std::string& options, const std::string& out);

// Runs a shell command; fails the current test if it exits non-zero.
void Shell(const std::string& command);

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& data);

// Flips one byte in the middle of the data of archive member `member` of the
// (uncompressed) tar at `tar_path`. Fails the test if there is no such member.
void CorruptTarMember(const std::string& tar_path, const std::string& member);

}  // namespace zlayer::images::testing
