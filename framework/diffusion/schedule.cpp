#include "framework/diffusion/schedule.h"

#include "framework/core/error.h"

namespace carnot {

NoiseSchedule NoiseSchedule::linear(int steps) {
  CARNOT_CHECK(steps >= 21, "the linear schedule needs at least 21 steps, got ", steps);
  const double scale = 1000.0 / steps, start = scale * 1e-4, end = scale * 0.02;
  NoiseSchedule s;
  double cumprod = 1.0;
  for (int t = 0; t < steps; ++t) {
    const double beta = start + (end - start) * double(t) / double(steps - 1);
    cumprod *= 1.0 - beta;
    s.betas.push_back(beta);
    s.alphas_cumprod.push_back(cumprod);
  }
  return s;
}

NoiseSchedule make_schedule(const DiffusionSpec& spec) {
  if (spec.schedule == "linear") return NoiseSchedule::linear(int(spec.steps));
  throw Error("unknown diffusion.schedule '" + spec.schedule + "'");
}

}  // namespace carnot
