#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/fingerprint/hash256.h"

namespace kagami::index {

struct IndexHit {
  int64_t unit_id = 0;
  int distance = 0;  // Hamming bits
};

// FAISS binary index over 256-bit PDQ hashes, keyed by catalog unit id.
//
// For radius <= 31 it uses faiss::IndexBinaryMultiHash with 16 tables of 16
// bits and nflip = radius / 16: by the pigeonhole principle two hashes within
// 31 bits agree on at least one 16-bit substring up to one flipped bit, so the
// search is exact while touching a tiny fraction of the codes. Larger radii fall
// back to exhaustive search (faiss::IndexBinaryFlat), which is exact for any radius.
// Const methods are thread-safe; Add/Save are not.
class PdqIndex {
 public:
  PdqIndex();
  ~PdqIndex();

  void Add(int64_t unit_id, const fingerprint::Hash256& hash);
  int64_t size() const;
  int64_t max_unit_id() const;  // 0 when empty

  // For each query, every indexed hash within `radius` bits, nearest first.
  std::vector<std::vector<IndexHit>> RangeSearch(const std::vector<fingerprint::Hash256>& queries,
                                                 int radius) const;

  // Atomic save (temp file + rename). Load gives kCorrupt on a damaged file.
  Status Save(const std::filesystem::path& path) const;
  static Result<std::unique_ptr<PdqIndex>> Load(const std::filesystem::path& path);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kagami::index
