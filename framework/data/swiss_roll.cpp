#include "framework/data/swiss_roll.h"

#include <cmath>

#include "framework/core/error.h"
#include "framework/core/random.h"
#include "framework/data/gaussian_mixture.h"
#include "framework/data/image_dataset.h"

namespace carnot {

SwissRoll::SwissRoll(double noise)
    : noise_(noise),
      std_x_(std::sqrt(SwissRollMoments::kVarX + noise * noise)),
      std_z_(std::sqrt(SwissRollMoments::kVarZ + noise * noise)) {}

void SwissRoll::fill(std::uint64_t seed, std::uint32_t step, std::uint32_t first, std::int64_t n,
                     RngStream stream, float* out) const {
  for (std::int64_t j = 0; j < n; ++j) {
    const Philox4x32 r = philox_draw(seed, step, first + std::uint32_t(j), stream, 0);
    const double t = 1.5 * SwissRollMoments::kPi * (1.0 + 2.0 * uniform_open01(r.v[0]));
    double e0, e1;
    box_muller(r.v[2], r.v[3], &e0, &e1);
    out[2 * j] = float((t * std::cos(t) + noise_ * e0 - SwissRollMoments::kMeanX) / std_x_);
    out[2 * j + 1] = float((t * std::sin(t) + noise_ * e1 - SwissRollMoments::kMeanZ) / std_z_);
  }
}

std::unique_ptr<Dataset> make_dataset(const DataSpec& spec, std::int64_t global_batch) {
  if (spec.kind == "swissroll") return std::make_unique<SwissRoll>(spec.noise);
  if (spec.kind == "gaussian" || spec.kind == "gaussian_mixture")
    return std::make_unique<GaussianMixtureData>(GaussianMixture::from_spec(spec), spec.quantize == "8bit");
  if (spec.image()) return make_image_dataset(spec, global_batch);
  throw Error("unknown data.kind '" + spec.kind + "'");
}

double data_std(const DataSpec& spec) {
  if (spec.kind == "swissroll") return 1.0;
  if (spec.image()) return 0.5;  // EDM's σ_data for images on [−1, 1]
  const std::vector<double> sd = GaussianMixture::from_spec(spec).stddev();
  double v = 0;
  for (double s : sd) v += s * s;
  return std::sqrt(v / double(sd.size()));
}

}  // namespace carnot
