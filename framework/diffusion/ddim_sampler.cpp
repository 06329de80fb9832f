#include "framework/diffusion/ddim_sampler.h"

#include <algorithm>
#include <cmath>

#include "framework/core/error.h"
#include "framework/core/random.h"

namespace carnot {

std::vector<int> sampling_times(int T, int K) {
  CARNOT_CHECK(K >= 1 && K <= T, "sampling steps must be in [1, ", T, "], got ", K);
  std::vector<int> ts;
  for (int i = 0; i < K; ++i)
    ts.push_back(K == 1 ? T - 1 : int(std::lround(double(T - 1) * double(K - 1 - i) / double(K - 1))));
  return ts;
}

void ddim_sample(const EpsPredictor& predict, const NoiseSchedule& schedule, int steps, double eta,
                 std::uint64_t seed, std::uint32_t first, std::int64_t n, std::int64_t dim,
                 std::int64_t chunk, float* out, double clip_x0) {
  const std::vector<int> ts = sampling_times(schedule.steps(), steps);
  Buffer eps_buf(DType::F32, Shape{chunk, dim});
  std::vector<float> t(static_cast<std::size_t>(chunk)), z(static_cast<std::size_t>(dim));
  for (std::int64_t c0 = 0; c0 < n; c0 += chunk) {
    const std::int64_t m = std::min(chunk, n - c0);
    float* x = out + c0 * dim;
    draw_initial_noise(seed, first + std::uint32_t(c0), m, dim, x);
    const Tensor xt(x, DType::F32, Shape{m, dim});
    const Tensor eps = eps_buf.tensor().rows(0, m);
    for (std::size_t i = 0; i < ts.size(); ++i) {
      const int ti = ts[i];
      std::fill(t.begin(), t.begin() + m, float(ti));
      predict(xt, t.data(), eps);
      const double ab = schedule.alphas_cumprod[ti];
      const double ab_prev = i + 1 < ts.size() ? schedule.alphas_cumprod[ts[i + 1]] : 1.0;
      const double sigma = eta * std::sqrt((1 - ab_prev) / (1 - ab)) * std::sqrt(1 - ab / ab_prev);
      const double dir = std::sqrt(std::max(0.0, 1 - ab_prev - sigma * sigma));
      const float* e = eps.data<float>();
      for (std::int64_t j = 0; j < m; ++j) {
        if (sigma > 0)
          philox_normals(seed, std::uint32_t(ti), first + std::uint32_t(c0 + j), RngStream::kSamplerNoise,
                         dim, z.data());
        for (std::int64_t d = 0; d < dim; ++d) {
          const std::int64_t k = j * dim + d;
          double x0 = (double(x[k]) - std::sqrt(1 - ab) * e[k]) / std::sqrt(ab), eps = e[k];
          if (clip_x0 > 0 && std::fabs(x0) > clip_x0) {
            x0 = std::clamp(x0, -clip_x0, clip_x0);
            eps = (double(x[k]) - std::sqrt(ab) * x0) / std::sqrt(1 - ab);
          }
          x[k] = float(std::sqrt(ab_prev) * x0 + dir * eps + (sigma > 0 ? sigma * z[std::size_t(d)] : 0.0));
        }
      }
    }
  }
}

}  // namespace carnot
