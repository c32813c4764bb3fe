#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kagami {

// Lowercase hexadecimal of `size` bytes at `data`, two digits per byte (the
// form Kagami uses for digests, PDQ hashes and PostgreSQL bytea literals).
std::string HexLower(const void* data, size_t size);
inline std::string HexLower(std::string_view bytes) { return HexLower(bytes.data(), bytes.size()); }

}  // namespace kagami
