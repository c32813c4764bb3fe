#include "kagami/fingerprint/hash256.h"

#include <bit>
#include <cstring>

#include "kagami/base/hex.h"

namespace kagami::fingerprint {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

}  // namespace

std::string Hash256::ToHex() const {
  std::string out(64, '0');
  for (int w = 15; w >= 0; --w) {
    const unsigned word = bytes[2 * w] | (static_cast<unsigned>(bytes[2 * w + 1]) << 8);
    const int pos = 4 * (15 - w);
    for (int d = 0; d < 4; ++d) out[pos + d] = kHexDigits[(word >> (12 - 4 * d)) & 0xF];
  }
  return out;
}

Result<Hash256> Hash256::FromHex(std::string_view hex) {
  if (hex.size() != 64) {
    return Status::InvalidArgument("PDQ hash must be 64 hex digits, got " +
                                   std::to_string(hex.size()) + " characters");
  }
  Hash256 hash;
  for (int w = 15; w >= 0; --w) {
    unsigned word = 0;
    const int pos = 4 * (15 - w);
    for (int d = 0; d < 4; ++d) {
      const int v = HexDigitValue(hex[pos + d]);
      if (v < 0) {
        return Status::InvalidArgument("PDQ hash has a non-hex character at position " +
                                       std::to_string(pos + d) + ": \"" + std::string(hex) + "\"");
      }
      word = (word << 4) | static_cast<unsigned>(v);
    }
    hash.bytes[2 * w] = static_cast<uint8_t>(word & 0xFF);
    hash.bytes[2 * w + 1] = static_cast<uint8_t>(word >> 8);
  }
  return hash;
}

int HammingDistance(const Hash256& a, const Hash256& b) {
  int total = 0;
  for (int i = 0; i < 4; ++i) {
    uint64_t x, y;
    std::memcpy(&x, a.bytes.data() + 8 * i, 8);
    std::memcpy(&y, b.bytes.data() + 8 * i, 8);
    total += std::popcount(x ^ y);
  }
  return total;
}

}  // namespace kagami::fingerprint
