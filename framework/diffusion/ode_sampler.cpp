#include "framework/diffusion/ode_sampler.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "framework/core/random.h"
#include "framework/diffusion/ddim_sampler.h"

namespace carnot {

void ode_sample(const EpsPredictor& predict, const NoiseSchedule& schedule, int steps, OdeMethod method,
                std::uint64_t seed, std::uint32_t first, std::int64_t n, std::int64_t dim,
                std::int64_t chunk, float* out) {
  const std::vector<int> ts = sampling_times(schedule.steps(), steps);
  auto sigma = [&](int t) { return std::sqrt((1 - schedule.alphas_cumprod[t]) / schedule.alphas_cumprod[t]); };
  Buffer xin(DType::F32, Shape{chunk, dim}), e1(DType::F32, Shape{chunk, dim}), e2(DType::F32, Shape{chunk, dim});
  std::vector<double> xs(static_cast<std::size_t>(chunk * dim)), trial(xs.size());
  std::vector<float> tf(static_cast<std::size_t>(chunk));
  // ε̂ at time t for the scaled state x̃ (rows m): the network sees x = sqrt(ᾱ_t) x̃.
  auto slope = [&](const std::vector<double>& state, int t, std::int64_t m, const Tensor& eps) {
    const double a = std::sqrt(schedule.alphas_cumprod[t]);
    float* x = xin.data<float>();
    for (std::int64_t k = 0; k < m * dim; ++k) x[k] = float(a * state[std::size_t(k)]);
    std::fill(tf.begin(), tf.begin() + m, float(t));
    predict(xin.tensor().rows(0, m), tf.data(), eps);
  };
  for (std::int64_t c0 = 0; c0 < n; c0 += chunk) {
    const std::int64_t m = std::min(chunk, n - c0);
    float* x = out + c0 * dim;
    draw_initial_noise(seed, first + std::uint32_t(c0), m, dim, x);
    const double a0 = std::sqrt(schedule.alphas_cumprod[ts[0]]);
    for (std::int64_t k = 0; k < m * dim; ++k) xs[std::size_t(k)] = x[k] / a0;
    const Tensor d1 = e1.tensor().rows(0, m), d2 = e2.tensor().rows(0, m);
    for (std::size_t i = 0; i < ts.size(); ++i) {
      const bool last = i + 1 == ts.size();
      const double s = sigma(ts[i]), s_next = last ? 0.0 : sigma(ts[i + 1]), h = s_next - s;
      slope(xs, ts[i], m, d1);
      const float* g1 = d1.data<float>();
      if (method == OdeMethod::kEuler || last) {
        for (std::int64_t k = 0; k < m * dim; ++k) xs[std::size_t(k)] += h * g1[k];
        continue;
      }
      for (std::int64_t k = 0; k < m * dim; ++k) trial[std::size_t(k)] = xs[std::size_t(k)] + h * g1[k];
      slope(trial, ts[i + 1], m, d2);
      const float* g2 = d2.data<float>();
      for (std::int64_t k = 0; k < m * dim; ++k) xs[std::size_t(k)] += 0.5 * h * (g1[k] + g2[k]);
    }
    for (std::int64_t k = 0; k < m * dim; ++k) x[k] = float(xs[std::size_t(k)]);
  }
}

}  // namespace carnot
