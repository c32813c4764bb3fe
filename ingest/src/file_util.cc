#include "file_util.h"

#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>

namespace kagami::ingest::internal {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

Result<FilePtr> OpenForReading(const std::filesystem::path& path) {
  FilePtr file(std::fopen(path.c_str(), "rb"));
  if (!file) return ErrnoStatus(errno, "open " + path.string());
  return file;
}

}  // namespace

Result<std::vector<unsigned char>> ReadFileHead(const std::filesystem::path& path,
                                                size_t max_bytes) {
  KAGAMI_ASSIGN_OR_RETURN(FilePtr file, OpenForReading(path));
  std::vector<unsigned char> head(max_bytes);
  size_t n = std::fread(head.data(), 1, head.size(), file.get());
  if (n < head.size() && std::ferror(file.get())) {
    return ErrnoStatus(errno, "read " + path.string());
  }
  head.resize(n);
  return head;
}

Result<std::vector<unsigned char>> ReadWholeFile(const std::filesystem::path& path,
                                                 uint64_t max_bytes) {
  std::error_code ec;
  uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return ErrnoStatus(ec.value(), "stat " + path.string());
  auto too_big = [&](uint64_t n) {
    return Status::ResourceExhausted(path.string() + ": " + std::to_string(n) +
                                     " bytes is over the limit of " + std::to_string(max_bytes) +
                                     " bytes for one image file");
  };
  if (size > max_bytes) return too_big(size);
  KAGAMI_ASSIGN_OR_RETURN(FilePtr file, OpenForReading(path));
  std::vector<unsigned char> bytes(static_cast<size_t>(size));
  size_t n = std::fread(bytes.data(), 1, bytes.size(), file.get());
  if (n < bytes.size()) {
    if (std::ferror(file.get())) return ErrnoStatus(errno, "read " + path.string());
    bytes.resize(n);  // Shrank since stat: read what is there.
    return bytes;
  }
  // Grew since stat: accept up to the limit.
  unsigned char chunk[65536];
  while ((n = std::fread(chunk, 1, sizeof(chunk), file.get())) > 0) {
    if (bytes.size() + n > max_bytes) return too_big(bytes.size() + n);
    bytes.insert(bytes.end(), chunk, chunk + n);
  }
  if (std::ferror(file.get())) return ErrnoStatus(errno, "read " + path.string());
  return bytes;
}

}  // namespace kagami::ingest::internal
