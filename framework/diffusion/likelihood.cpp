#include "framework/diffusion/likelihood.h"

#include <algorithm>
#include <cmath>

#include "framework/core/error.h"
#include "framework/core/random.h"
#include "framework/diffusion/discretized_decoder.h"

namespace carnot {

double prior_nats(const NoiseSchedule& s, std::int64_t dim, const float* x0) {
  const double abT = s.alphas_cumprod.back();  // KL(N(sqrt(ᾱ_T) x0, 1 − ᾱ_T) ‖ N(0, 1)) per dimension
  double kl = 0;
  for (std::int64_t d = 0; d < dim; ++d)
    kl += 0.5 * (abT * double(x0[d]) * x0[d] + (1 - abT) - 1 - std::log(1 - abT));
  return kl;
}

BoundEstimate variational_bound(const ReverseModel& model, const NoiseSchedule& schedule,
                                std::uint64_t seed, std::int64_t n, std::int64_t dim,
                                const float* x0, std::int64_t chunk, int t_samples,
                                double bin_half_width) {
  const bool discrete = bin_half_width > 0;
  CARNOT_CHECK(!discrete || variance_outputs(model.variance(), 2) <= 2,
               "the discretised decoder needs a diagonal reverse variance, not learned_full");
  const int T = schedule.steps();
  auto abar = [&](int t) { return t == 0 ? 1.0 : schedule.alphas_cumprod[t - 1]; };  // 1-indexed
  auto beta = [&](int t) { return schedule.betas[t - 1]; };
  BoundEstimate out;
  out.nats.assign(std::size_t(n), 0.0);
  out.step_nats.assign(std::size_t(T) + 1, 0.0);

  for (std::int64_t j = 0; j < n; ++j) {
    const double kl = prior_nats(schedule, dim, x0 + j * dim);
    out.nats[std::size_t(j)] += kl;
    out.step_nats[std::size_t(T)] += kl / double(n);
  }

  const std::int64_t P = variance_outputs(model.variance(), dim);
  Buffer xt_buf(DType::F32, Shape{chunk, dim}), eps_buf(DType::F32, Shape{chunk, dim}),
      params_buf(DType::F32, Shape{chunk, std::max<std::int64_t>(P, 1)});
  std::vector<float> tf(static_cast<std::size_t>(chunk));
  std::vector<double> z(static_cast<std::size_t>(dim)), delta(static_cast<std::size_t>(dim)),
      terms(static_cast<std::size_t>(chunk));
  // Term t1[j] (1-indexed) for rows [c, c + m): x_t drawn with noise keyed by (t, draw, point).
  auto eval_terms = [&](std::int64_t c, std::int64_t m, const int* t1, std::uint32_t draw) {
    float* xt = xt_buf.data<float>();
    for (std::int64_t j = 0; j < m; ++j) {
      const double ab = abar(t1[j]);
      philox_normals(seed, std::uint32_t(t1[j]) | (draw << 17), std::uint32_t(c + j), RngStream::kBoundNoise,
                     dim, z.data());
      for (std::int64_t d = 0; d < dim; ++d)
        xt[j * dim + d] = float(std::sqrt(ab) * x0[(c + j) * dim + d] + std::sqrt(1 - ab) * z[std::size_t(d)]);
      tf[std::size_t(j)] = float(t1[j] - 1);  // the model's 0-indexed time
    }
    const Tensor eps = eps_buf.tensor().rows(0, m), params = params_buf.tensor().rows(0, m);
    model.predict(xt_buf.tensor().rows(0, m), tf.data(), eps, params);
    for (std::int64_t j = 0; j < m; ++j) {
      const int t = t1[j];
      const double ab = abar(t), ab_prev = abar(t - 1), b = beta(t), a = 1 - b;
      const double c0 = std::sqrt(ab_prev) * b / (1 - ab), ct = std::sqrt(a) * (1 - ab_prev) / (1 - ab);
      for (std::int64_t d = 0; d < dim; ++d) {
        const std::int64_t k = j * dim + d;
        const double x = x0[(c + j) * dim + d];
        const double mu = (double(xt[k]) - b / std::sqrt(1 - ab) * eps.data<float>()[k]) / std::sqrt(a);
        // KL(N(μ̃, β̃) ‖ N(μ, Σ)) for t > 1 takes μ̃ − μ; the decoder's −log N(x0; μ, Σ) at t = 1, x0 − μ.
        delta[std::size_t(d)] = t > 1 ? c0 * x + ct * double(xt[k]) - mu : x - mu;
      }
      if (discrete && t == 1) {  // ∫ over each pixel's bin of N(μ, σ²)
        double nats = 0;
        for (std::int64_t d = 0; d < dim; ++d) {
          const double x = x0[(c + j) * dim + d], var = reverse_variance(
              schedule, 0, model.variance(), P > 0 ? double(params.data<float>()[j * P + d]) : 0.0);
          nats += discretized_gaussian_nll(x, x - delta[std::size_t(d)], std::sqrt(var), bin_half_width);
        }
        terms[std::size_t(j)] = nats;
        continue;
      }
      terms[std::size_t(j)] = row_bound_nats(schedule, t - 1, model.variance(), dim, delta.data(),
                                             params.data<float>() + j * P);
    }
  };
  std::vector<int> t1(static_cast<std::size_t>(chunk));
  auto add = [&](std::int64_t c, std::int64_t m, double scale) {
    for (std::int64_t j = 0; j < m; ++j) {
      out.nats[std::size_t(c + j)] += scale * terms[std::size_t(j)];
      out.step_nats[std::size_t(t1[std::size_t(j)] - 1)] += scale * terms[std::size_t(j)] / double(n);
    }
  };
  // Every term t (t_samples = 0), or the decoder plus t_samples uniform draws of t ∈ {2..T} per
  // point, each weighted (T − 1)/t_samples: an unbiased estimate of the same sum.
  const int exact_until = t_samples > 0 ? 1 : T;
  for (int t = 1; t <= exact_until; ++t)
    for (std::int64_t c = 0; c < n; c += chunk) {
      const std::int64_t m = std::min(chunk, n - c);
      std::fill(t1.begin(), t1.begin() + m, t);
      eval_terms(c, m, t1.data(), 0);
      add(c, m, 1.0);
    }
  for (int r = 0; r < t_samples && T > 1; ++r)
    for (std::int64_t c = 0; c < n; c += chunk) {
      const std::int64_t m = std::min(chunk, n - c);
      for (std::int64_t j = 0; j < m; ++j)
        t1[std::size_t(j)] = 2 + int(uniform_below(
                                     philox_draw(seed, std::uint32_t(r), std::uint32_t(c + j), RngStream::kBoundNoise,
                                                 0xffffffffu).v[0],
                                     std::uint32_t(T - 1)));
      eval_terms(c, m, t1.data(), std::uint32_t(r + 1));
      add(c, m, double(T - 1) / double(t_samples));
    }
  return out;
}

}  // namespace carnot
