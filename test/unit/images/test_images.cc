#include "test_images.h"

#include <stdlib.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace zlayer::images::testing {

std::string BuildTestImage(const std::string& options, const std::string& out) {
  std::string log = out + ".log";
  std::string command = std::string(ZLAYER_SOURCE_DIR) + "/scripts/build-test-image.sh " + options +
                        " " + out + " 2>" + log;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  std::array<char, 256> buffer;
  while (fgets(buffer.data(), buffer.size(), pipe)) output += buffer.data();
  int rc = pclose(pipe);
  INFO(command << "\n" << ReadFile(log));
  REQUIRE(rc == 0);
  while (!output.empty() && output.back() == '\n') output.pop_back();
  REQUIRE(output.rfind("sha256:", 0) == 0);
  return output;
}

void Shell(const std::string& command) {
  INFO(command);
  REQUIRE(std::system(command.c_str()) == 0);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  REQUIRE(out.good());
}

void CorruptTarMember(const std::string& tar_path, const std::string& member) {
  std::string tar = ReadFile(tar_path);
  size_t offset = 0;
  while (offset + 512 <= tar.size() && tar[offset] != '\0') {
    std::string name(tar.data() + offset, strnlen(tar.data() + offset, 100));
    long size = std::strtol(std::string(tar.data() + offset + 124, 12).c_str(), nullptr, 8);
    if (name == member || name == "./" + member) {
      REQUIRE(size > 0);
      tar[offset + 512 + size / 2] ^= 0x01;
      WriteFile(tar_path, tar);
      return;
    }
    offset += 512 + (size + 511) / 512 * 512;
  }
  FAIL("no member " << member << " in " << tar_path);
}

}  // namespace zlayer::images::testing
