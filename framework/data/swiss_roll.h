// The Swiss roll, pinned: t = 1.5π(1 + 2u), u ~ U(0, 1), point (t cos t, t sin t) (sklearn's
// make_swiss_roll, columns x and z) plus noise·N(0, I) in those raw units, then standardised per
// dimension by the roll's exact mean and standard deviation (noise included), so the data has
// zero mean and unit variance in each dimension.
#pragma once
#include "framework/data/dataset.h"

namespace carnot {

// Exact moments of the noiseless roll, t ~ U(a, b) with a = 1.5π, b = 4.5π, L = 3π:
//   E[t cos t] = [t sin t + cos t]_a^b / L = 6π / 3π = 2
//   E[t sin t] = [sin t − t cos t]_a^b / L = 2 / 3π
//   E[t² cos² t] = (29.25π³ − 1.5π) / 6π = 4.875π² − 1/4
//   E[t² sin² t] = (29.25π³ + 1.5π) / 6π = 4.875π² + 1/4
struct SwissRollMoments {
  static constexpr double kPi = 3.14159265358979323846;
  static constexpr double kMeanX = 2.0;
  static constexpr double kMeanZ = 2.0 / (3.0 * kPi);
  static constexpr double kVarX = 4.875 * kPi * kPi - 0.25 - kMeanX * kMeanX;
  static constexpr double kVarZ = 4.875 * kPi * kPi + 0.25 - kMeanZ * kMeanZ;
};

class SwissRoll final : public Dataset {
 public:
  explicit SwissRoll(double noise);
  std::int64_t dim() const override { return 2; }
  void fill(std::uint64_t seed, std::uint32_t step, std::uint32_t first, std::int64_t n,
            RngStream stream, float* out) const override;

 private:
  double noise_, std_x_, std_z_;
};

}  // namespace carnot
