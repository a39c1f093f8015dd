// Rng: a small counter-based random generator (splitmix64) whose streams are keyed by values such
// as (seed, epoch, example index), so augmentation never depends on threads or ranks, and results
// are identical across platforms and LibTorch versions.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>

namespace bnx::data {

class Rng {
 public:
  /// A stream keyed by every value of `keys`.
  explicit Rng(std::initializer_list<uint64_t> keys) {
    for (uint64_t k : keys) state_ = mix(state_ ^ (k + 0x9e3779b97f4a7c15ULL));
  }
  uint64_t next() { return mix(state_ += 0x9e3779b97f4a7c15ULL); }
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [0, n).
  uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }
  /// Standard normal (Box-Muller).
  double normal() {
    double u = uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log1p(-u)) * std::cos(6.283185307179586 * v);
  }

 private:
  static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t state_ = 0x853c49e6748fea9bULL;
};

}  // namespace bnx::data
