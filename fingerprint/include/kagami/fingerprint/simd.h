#pragma once

#include <string_view>
#include <vector>

namespace kagami::fingerprint {

// Instruction-set levels the kernels are compiled for. kScalar is the
// reference and is always available; the others are chosen at run time from
// CPUID and must give bit-identical results.
enum class SimdLevel { kScalar = 0, kAvx2 = 1 };

// The best level this CPU supports (honours KAGAMI_SIMD=scalar|avx2 to force one down).
SimdLevel DetectSimdLevel();
// Every level this CPU can run, kScalar first (for parameterised tests and benchmarks).
std::vector<SimdLevel> SupportedSimdLevels();
std::string_view SimdLevelName(SimdLevel level);

}  // namespace kagami::fingerprint
