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
// Multi-index hashing (Norouzi, Punjani & Fleet, "Fast Exact Search in Hamming
// Space with Multi-Index Hashing", IEEE TPAMI 36(6), 2014): for radius <= 31 it
// uses faiss::IndexBinaryMultiHash with 16 tables of 16 bits and nflip =
// radius / 16. By the pigeonhole principle two hashes within r bits differ in
// at most r / 16 bits in at least one of the 16 substrings, so probing each
// table with up to nflip flipped bits and verifying the candidates is exact
// while touching a tiny fraction of the codes. Larger radii fall back to
// exhaustive search over the same codes (faiss::IndexBinaryFlat), which is
// exact for any radius.
//
// Const methods are thread-safe; Add/Save are not. FAISS runs single-threaded
// inside each call (callers parallelise across calls). Multi-hash queries are
// serialised by an internal mutex: nflip is a member of the FAISS index, set
// per query, and FAISS 1.7.3 updates a global statistics counter without
// synchronisation; such a query takes microseconds. Flat (radius > 31)
// queries run concurrently.
//
// Cost, measured on 100k random codes on a shared 2-core VM, one thread
// (Debian's FAISS is built without hardware popcount): ~850 bytes of memory per
// code, the 16 hash tables dominating; radius < 16 some 30k-190k queries/s,
// radius 16..31 some 3.5k-7k queries/s, radius > 31 about 1k queries/s.
class PdqIndex {
 public:
  PdqIndex();
  ~PdqIndex();

  // unit_id must be positive (a catalog row id); ids need not be added in order.
  // A FAISS failure (out of memory) is returned, never thrown or aborted on.
  Status Add(int64_t unit_id, const fingerprint::Hash256& hash);
  int64_t size() const;
  int64_t max_unit_id() const;  // 0 when empty

  // For each query, every indexed hash within `radius` bits (inclusive),
  // nearest first, ties by unit id. A negative radius finds nothing. A FAISS
  // failure (out of memory) is returned as kInternal.
  Result<std::vector<std::vector<IndexHit>>> RangeSearch(
      const std::vector<fingerprint::Hash256>& queries, int radius) const;

  // Atomic save: writes a uniquely named path + ".tmp.XXXXXX", fsyncs it, renames it over `path`
  // and fsyncs the directory. The format is Kagami's own (magic "KGMIDX1\0", version, count, max
  // unit id, unit ids, codes, FNV-1a-64 checksum); Load rebuilds the FAISS tables from the codes.
  // Load gives kNotFound for a missing file, kCorrupt for a truncated or damaged one, kUnsupported
  // for another format version.
  Status Save(const std::filesystem::path& path) const;
  static Result<std::unique_ptr<PdqIndex>> Load(const std::filesystem::path& path);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kagami::index
