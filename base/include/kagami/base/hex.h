#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kagami {

// Lowercase hexadecimal of `size` bytes at `data`, two digits per byte (the
// form Kagami uses for digests, PDQ hashes and PostgreSQL bytea literals).
std::string HexLower(const void* data, size_t size);
inline std::string HexLower(std::string_view bytes) { return HexLower(bytes.data(), bytes.size()); }

// The value of one hexadecimal digit (either case), or -1 for any other character.
inline int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace kagami
