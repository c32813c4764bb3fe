#pragma once

#include <cstddef>

#include "kagami/fingerprint/hash256.h"
#include "kagami/fingerprint/simd.h"

namespace kagami::fingerprint {

// One-vs-many Hamming distance: out[i] = HammingDistance(query, db[i]) for
// i in [0, n). `db` and `out` must hold n elements (either may be null when
// n == 0). Uses the best SIMD level of this CPU, detected once per process
// (KAGAMI_SIMD=scalar forces the portable path). Thread-safe.
void HammingDistances(const Hash256& query, const Hash256* db, size_t n, int* out);

// Same, with an explicit kernel level; `level` must be one that
// SupportedSimdLevels() lists. Results do not depend on the level.
void HammingDistances(const Hash256& query, const Hash256* db, size_t n, int* out, SimdLevel level);

}  // namespace kagami::fingerprint
