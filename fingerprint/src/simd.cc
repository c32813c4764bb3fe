#include "kagami/fingerprint/simd.h"

#include <cstdlib>
#include <cstring>

namespace kagami::fingerprint {
namespace {

bool CpuHasAvx2() {
#if defined(__x86_64__) || defined(__i386__)
  // __builtin_cpu_supports consults CPUID and, for AVX/AVX2, the OS XSAVE
  // state (OSXSAVE + XCR0), so a kernel that does not save YMM state reports no.
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
#else
  return false;
#endif
}

}  // namespace

SimdLevel DetectSimdLevel() {
  const SimdLevel best = CpuHasAvx2() ? SimdLevel::kAvx2 : SimdLevel::kScalar;
  const char* forced = std::getenv("KAGAMI_SIMD");
  if (forced != nullptr && std::strcmp(forced, "scalar") == 0) return SimdLevel::kScalar;
  // "avx2" (or anything else) cannot raise the level above what the CPU runs.
  return best;
}

std::vector<SimdLevel> SupportedSimdLevels() {
  std::vector<SimdLevel> levels{SimdLevel::kScalar};
  if (CpuHasAvx2()) levels.push_back(SimdLevel::kAvx2);
  return levels;
}

std::string_view SimdLevelName(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar:
      return "scalar";
    case SimdLevel::kAvx2:
      return "avx2";
  }
  return "unknown";
}

}  // namespace kagami::fingerprint
