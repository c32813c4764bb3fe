#include "kagami/fingerprint/hamming.h"

#include "kagami/fingerprint/pdq_kernels.h"

namespace kagami::fingerprint {

void HammingDistances(const Hash256& query, const Hash256* db, size_t n, int* out) {
  static const SimdLevel kLevel = DetectSimdLevel();
  HammingDistances(query, db, n, out, kLevel);
}

void HammingDistances(const Hash256& query, const Hash256* db, size_t n, int* out,
                      SimdLevel level) {
  if (n == 0) return;
  pdq::KernelsFor(level).hamming(query, db, n, out);
}

}  // namespace kagami::fingerprint
