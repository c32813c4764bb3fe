#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "kagami/base/status.h"

namespace kagami::fingerprint {

// A 256-bit hash laid out as PDQ's 16 uint16 words, little-endian:
// bytes[2w] is the low byte of word w, bytes[2w+1] its high byte, and bit b
// of word w is hash bit 16*w+b. This is also the byte order stored in the
// catalog and given to FAISS (Hamming distance does not depend on it).
struct Hash256 {
  std::array<uint8_t, 32> bytes{};

  bool GetBit(int bit) const { return (bytes[bit >> 3] >> (bit & 7)) & 1; }
  void SetBit(int bit) { bytes[bit >> 3] |= static_cast<uint8_t>(1u << (bit & 7)); }

  // 64 lowercase hex digits in PDQ's order: word 15 first, word 0 last.
  std::string ToHex() const;
  // Parses ToHex()'s format (either case). kInvalidArgument on anything else.
  static Result<Hash256> FromHex(std::string_view hex);

  friend bool operator==(const Hash256&, const Hash256&) = default;
};

// Number of differing bits, 0..256.
int HammingDistance(const Hash256& a, const Hash256& b);

}  // namespace kagami::fingerprint
