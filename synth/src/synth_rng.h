#pragma once

#include <cstdint>

namespace kagami::synth {

// splitmix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number
// generators", OOPSLA 2014). Hand-rolled mappings to ranges so that output is
// identical with every standard library (std::uniform_*_distribution is not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // [0, 1) with 53 random bits.
  double UniformUnit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // [lo, hi); returns lo when hi <= lo.
  double UniformReal(double lo, double hi) {
    return hi <= lo ? lo : lo + (hi - lo) * UniformUnit();
  }
  // [lo, hi] inclusive; returns lo when hi <= lo.
  int UniformInt(int lo, int hi) {
    if (hi <= lo) return lo;
    const uint64_t span = static_cast<uint64_t>(static_cast<int64_t>(hi) - lo) + 1;
    return static_cast<int>(lo + static_cast<int64_t>(Next() % span));
  }
  bool Bernoulli(double p) { return UniformUnit() < p; }

 private:
  uint64_t state_;
};

}  // namespace kagami::synth
