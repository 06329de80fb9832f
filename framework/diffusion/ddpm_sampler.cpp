#include "framework/diffusion/ddpm_sampler.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "framework/core/random.h"

namespace carnot {

void draw_initial_noise(std::uint64_t seed, std::uint32_t first, std::int64_t m, std::int64_t dim,
                        float* x) {
  for (std::int64_t j = 0; j < m; ++j)
    philox_normals(seed, 0, first + std::uint32_t(j), RngStream::kSamplerInit, dim, x + j * dim);
}

void ddpm_sample(const ReverseModel& model, const NoiseSchedule& schedule, std::uint64_t seed,
                 std::uint32_t first, std::int64_t n, std::int64_t dim, std::int64_t chunk,
                 float* out, double clip_x0) {
  const int T = schedule.steps();
  const std::int64_t P = variance_outputs(model.variance(), dim);
  Buffer eps_buf(DType::F32, Shape{chunk, dim}), params_buf(DType::F32, Shape{chunk, std::max<std::int64_t>(P, 1)});
  std::vector<float> t(std::size_t(chunk), 0.0f);
  std::vector<float> zf(static_cast<std::size_t>(dim));  // float normals, as the sampler always drew
  std::vector<double> z(static_cast<std::size_t>(dim)), noise(static_cast<std::size_t>(dim));
  for (std::int64_t c0 = 0; c0 < n; c0 += chunk) {
    const std::int64_t m = std::min(chunk, n - c0);
    float* x = out + c0 * dim;
    draw_initial_noise(seed, first + std::uint32_t(c0), m, dim, x);
    const Tensor xt(x, DType::F32, Shape{m, dim});
    const Tensor eps = eps_buf.tensor().rows(0, m), params = params_buf.tensor().rows(0, m);
    for (int ti = T - 1; ti >= 0; --ti) {
      std::fill(t.begin(), t.begin() + m, float(ti));
      model.predict(xt, t.data(), eps, params);
      const double beta = schedule.betas[ti], abar = schedule.alphas_cumprod[ti];
      const double coef_eps = beta / std::sqrt(1.0 - abar);
      const double inv_sqrt_alpha = 1.0 / std::sqrt(1.0 - beta);
      const double abar_prev = ti > 0 ? schedule.alphas_cumprod[ti - 1] : 1.0;
      const double coef_x0 = std::sqrt(abar_prev) * beta / (1.0 - abar);
      const double coef_xt = std::sqrt(1.0 - beta) * (1.0 - abar_prev) / (1.0 - abar);
      const float* e = eps.data<float>();
      for (std::int64_t j = 0; j < m; ++j) {
        if (ti > 0) {
          philox_normals(seed, std::uint32_t(ti), first + std::uint32_t(c0 + j),
                         RngStream::kSamplerNoise, dim, zf.data());
          std::copy(zf.begin(), zf.end(), z.begin());
          reverse_noise(schedule, ti, model.variance(), dim, params.data<float>() + j * P, z.data(), noise.data());
        }
        for (std::int64_t d = 0; d < dim; ++d) {
          const std::int64_t k = j * dim + d;
          double mean;
          if (clip_x0 > 0) {
            const double x0 = std::clamp((double(x[k]) - std::sqrt(1.0 - abar) * double(e[k])) / std::sqrt(abar),
                                         -clip_x0, clip_x0);
            mean = coef_x0 * x0 + coef_xt * double(x[k]);
          } else {
            mean = inv_sqrt_alpha * (double(x[k]) - coef_eps * double(e[k]));
          }
          x[k] = float(ti > 0 ? mean + noise[std::size_t(d)] : mean);
        }
      }
    }
  }
}

}  // namespace carnot
