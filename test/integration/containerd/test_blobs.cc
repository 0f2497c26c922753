#include "test/integration/containerd/test_blobs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace zlayer::containerd::testing {

Result<size_t> MemoryBlobSource::Read(char* buffer, size_t size) {
  if (fail_after_reads_ && reads_ >= *fail_after_reads_) {
    return UnavailableError("test source: the download broke");
  }
  ++reads_;
  const size_t count = std::min(size, data_.size() - position_);
  std::memcpy(buffer, data_.data() + position_, count);
  position_ += count;
  return count;
}

Status MemoryBlobSource::Seek(int64_t offset) {
  seeks_.push_back(offset);
  if (offset < 0 || static_cast<size_t>(offset) > data_.size()) {
    return InvalidArgumentError(fmt::format("test source: seek to {} of {}", offset, data_.size()));
  }
  position_ = static_cast<size_t>(offset);
  return Status::Ok();
}

namespace {

constexpr size_t kBlock = 512;

// Writes `value` as a NUL-terminated octal field of `width` bytes.
void PutOctal(char* field, size_t width, uint64_t value) {
  const std::string text = fmt::format("{:0{}o}", value, width - 1);
  std::memcpy(field, text.data(), width - 1);
  field[width - 1] = '\0';
}

void PutString(char* field, size_t width, const std::string& value) {
  std::memcpy(field, value.data(), std::min(width, value.size()));
}

}  // namespace

void TarWriter::AddHeader(const std::string& path, char type, uint32_t mode, size_t size,
                          const std::string& link_target) {
  char header[kBlock] = {};
  PutString(header + 0, 100, path);
  PutOctal(header + 100, 8, mode);
  PutOctal(header + 108, 8, 0);  // uid
  PutOctal(header + 116, 8, 0);  // gid
  PutOctal(header + 124, 12, size);
  PutOctal(header + 136, 12, 0);  // mtime
  header[156] = type;
  PutString(header + 157, 100, link_target);
  std::memcpy(header + 257, "ustar", 6);  // magic with its NUL
  std::memcpy(header + 263, "00", 2);     // version
  PutString(header + 265, 32, "root");
  PutString(header + 297, 32, "root");
  // The checksum is computed with its own field read as spaces.
  std::memset(header + 148, ' ', 8);
  unsigned int sum = 0;
  for (unsigned char byte : header) sum += byte;
  PutOctal(header + 148, 7, sum);
  header[155] = ' ';
  archive_.append(header, kBlock);
}

void TarWriter::AddDirectory(const std::string& path, uint32_t mode) {
  AddHeader(path.back() == '/' ? path : path + "/", '5', mode, 0, "");
}

void TarWriter::AddFile(const std::string& path, const std::string& content, uint32_t mode) {
  AddHeader(path, '0', mode, content.size(), "");
  archive_ += content;
  archive_.append((kBlock - content.size() % kBlock) % kBlock, '\0');
}

void TarWriter::AddSymlink(const std::string& path, const std::string& target) {
  AddHeader(path, '2', 0777, 0, target);
}

std::string TarWriter::Finish() const { return archive_ + std::string(2 * kBlock, '\0'); }

}  // namespace zlayer::containerd::testing
