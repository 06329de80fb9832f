#include "framework/diffusion/likelihood.h"

#include <algorithm>
#include <cmath>

#include "framework/core/random.h"

namespace carnot {

BoundEstimate variational_bound(const EpsPredictor& predict, const NoiseSchedule& schedule,
                                std::uint64_t seed, std::int64_t n, std::int64_t dim,
                                const float* x0, std::int64_t chunk, ReverseVariance variance) {
  const int T = schedule.steps();
  auto abar = [&](int t) { return t == 0 ? 1.0 : schedule.alphas_cumprod[t - 1]; };  // 1-indexed
  auto beta = [&](int t) { return schedule.betas[t - 1]; };
  BoundEstimate out;
  out.nats.assign(std::size_t(n), 0.0);
  out.step_nats.assign(std::size_t(T) + 1, 0.0);

  // Prior: KL(N(sqrt(ᾱ_T) x0, 1 − ᾱ_T) ‖ N(0, 1)) per dimension.
  const double abT = abar(T);
  for (std::int64_t j = 0; j < n; ++j) {
    double kl = 0;
    for (std::int64_t d = 0; d < dim; ++d) {
      const double m = std::sqrt(abT) * x0[j * dim + d];
      kl += 0.5 * (m * m + (1 - abT) - 1 - std::log(1 - abT));
    }
    out.nats[std::size_t(j)] += kl;
    out.step_nats[std::size_t(T)] += kl / double(n);
  }

  Buffer xt_buf(DType::F32, Shape{chunk, dim}), eps_buf(DType::F32, Shape{chunk, dim});
  std::vector<float> tf(static_cast<std::size_t>(chunk));
  std::vector<double> z(static_cast<std::size_t>(dim));
  for (int t = 1; t <= T; ++t) {
    const double ab = abar(t), ab_prev = abar(t - 1), b = beta(t), a = 1 - b;
    const double post_var = t > 1 ? (1 - ab_prev) / (1 - ab) * b : 0.0;  // β̃_t
    // The model's variance; the decoder (t = 1, where β̃_1 = 0) always uses β_1.
    const double var = t > 1 && variance == ReverseVariance::kPosterior ? post_var : b;
    // KL's variance part per dimension (zero when σ² = β̃).
    const double kl_var = t > 1 ? 0.5 * (std::log(var / post_var) + post_var / var - 1) : 0.0;
    const double c0 = std::sqrt(ab_prev) * b / (1 - ab), ct = std::sqrt(a) * (1 - ab_prev) / (1 - ab);
    for (std::int64_t c = 0; c < n; c += chunk) {
      const std::int64_t m = std::min(chunk, n - c);
      float* xt = xt_buf.data<float>();
      for (std::int64_t j = 0; j < m; ++j) {
        philox_normals(seed, std::uint32_t(t), std::uint32_t(c + j), RngStream::kBoundNoise, dim, z.data());
        for (std::int64_t d = 0; d < dim; ++d)
          xt[j * dim + d] = float(std::sqrt(ab) * x0[(c + j) * dim + d] + std::sqrt(1 - ab) * z[std::size_t(d)]);
      }
      std::fill(tf.begin(), tf.begin() + m, float(t - 1));  // the model's 0-indexed time
      const Tensor xt_t = xt_buf.tensor().rows(0, m), eps = eps_buf.tensor().rows(0, m);
      predict(xt_t, tf.data(), eps);
      for (std::int64_t j = 0; j < m; ++j) {
        double term = 0;
        for (std::int64_t d = 0; d < dim; ++d) {
          const std::int64_t k = j * dim + d;
          const double x = x0[(c + j) * dim + d];
          const double mu = (double(xt[k]) - b / std::sqrt(1 - ab) * eps.data<float>()[k]) / std::sqrt(a);
          if (t > 1) {  // KL(N(μ̃, β̃) ‖ N(μ, σ²))
            const double mu_post = c0 * x + ct * double(xt[k]);
            term += kl_var + 0.5 * (mu_post - mu) * (mu_post - mu) / var;
          } else {      // decoder: −log N(x0; μ, β_1)
            term += 0.5 * ((x - mu) * (x - mu) / var + std::log(2 * M_PI * var));
          }
        }
        out.nats[std::size_t(c + j)] += term;
        out.step_nats[std::size_t(t - 1)] += term / double(n);
      }
    }
  }
  return out;
}

}  // namespace carnot
