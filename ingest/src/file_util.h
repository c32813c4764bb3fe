#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "kagami/base/status.h"

namespace kagami::ingest::internal {

// Up to `max_bytes` bytes from the start of `path` (fewer for a shorter file).
// Errors name the path.
Result<std::vector<unsigned char>> ReadFileHead(const std::filesystem::path& path,
                                                size_t max_bytes);

// The whole file, refused with kResourceExhausted (before reading) when it is
// larger than `max_bytes`; a file that grows while read is cut off at
// `max_bytes + 1` bytes and refused the same way.
Result<std::vector<unsigned char>> ReadWholeFile(const std::filesystem::path& path,
                                                 uint64_t max_bytes);

}  // namespace kagami::ingest::internal
