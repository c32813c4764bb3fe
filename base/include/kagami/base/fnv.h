#pragma once

#include <cstddef>
#include <cstdint>

namespace kagami {

// FNV-1a, 64-bit (Fowler, Noll, Vo; draft-eastlake-fnv): the checksum of
// Kagami's own derived files (pdq.index, local.index's postings section, the
// video frame map). Not a cryptographic digest: it catches torn or damaged
// files, not tampering (kagami/base/sha256.h does that).
inline constexpr uint64_t kFnv1a64Offset = 0xcbf29ce484222325ull;

// Continues the hash `state` over `size` bytes at `data`; start from
// kFnv1a64Offset. Fnv1a64(Fnv1a64(s, a), b) == Fnv1a64(s, a + b).
inline uint64_t Fnv1a64(uint64_t state, const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < size; ++i) {
    state ^= p[i];
    state *= 0x100000001b3ull;
  }
  return state;
}

}  // namespace kagami
