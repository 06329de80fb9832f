#include "framework/diffusion/schedule.h"

#include <algorithm>
#include <cmath>

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

NoiseSchedule NoiseSchedule::cosine(int steps) {
  CARNOT_CHECK(steps >= 2, "the cosine schedule needs at least 2 steps, got ", steps);
  constexpr double kS = 0.008, kHalfPi = 1.5707963267948966;
  auto f = [&](double t) {
    const double c = std::cos((t / steps + kS) / (1 + kS) * kHalfPi);
    return c * c;
  };
  NoiseSchedule s;
  double cumprod = 1.0;
  for (int t = 0; t < steps; ++t) {
    // β_t = 1 − ᾱ(t+1)/ᾱ(t) in improved-diffusion's indexing (t = 0 is the first noising step).
    const double beta = std::min(1.0 - f(t + 1) / f(t), 0.999);
    cumprod *= 1.0 - beta;
    s.betas.push_back(beta);
    s.alphas_cumprod.push_back(cumprod);
  }
  return s;
}

NoiseSchedule NoiseSchedule::sohl2015(int steps, double step1_beta) {
  CARNOT_CHECK(steps >= 2, "the 2015 schedule needs at least 2 steps, got ", steps);
  NoiseSchedule s;
  double cumprod = 1.0;
  for (int t = 0; t < steps; ++t) {
    const double b = 1.0 / (double(steps) + (2.0 - double(steps)) * double(t) / double(steps - 1));
    const double m = 1e-6 + (t == 0 ? step1_beta : 0.0);
    const double beta = m + b * (1 - m - 1e-5);
    cumprod *= 1.0 - beta;
    s.betas.push_back(beta);
    s.alphas_cumprod.push_back(cumprod);
  }
  return s;
}

NoiseSchedule NoiseSchedule::log_snr(int steps, double log_snr_max, double log_snr_min) {
  CARNOT_CHECK(steps >= 2 && log_snr_max > log_snr_min, "the log-SNR schedule needs at least 2 steps and max > min");
  NoiseSchedule s;
  double prev = 1.0;
  for (int t = 0; t < steps; ++t) {
    const double lambda = log_snr_max + (log_snr_min - log_snr_max) * double(t) / double(steps - 1);
    const double abar = 1 / (1 + std::exp(-lambda));
    s.betas.push_back(1 - abar / prev);
    s.alphas_cumprod.push_back(abar);
    prev = abar;
  }
  return s;
}

NoiseSchedule make_schedule(const DiffusionSpec& spec) {
  if (spec.continuous()) return NoiseSchedule{};  // flow_matching.h or edm.h: no β
  if (spec.schedule == "sohl2015") return NoiseSchedule::sohl2015(int(spec.steps), spec.step1_beta);
  if (spec.schedule == "linear") return NoiseSchedule::linear(int(spec.steps));
  if (spec.schedule == "cosine") return NoiseSchedule::cosine(int(spec.steps));
  if (spec.schedule == "log_snr")
    return NoiseSchedule::log_snr(int(spec.steps), spec.log_snr_max, spec.log_snr_min);
  throw Error("unknown diffusion.schedule '" + spec.schedule + "'");
}

}  // namespace carnot
