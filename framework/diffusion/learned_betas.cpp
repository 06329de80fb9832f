#include "framework/diffusion/learned_betas.h"

#include <cmath>
#include <vector>

#include "framework/core/error.h"

namespace carnot {

NoiseSchedule learned_schedule(const NoiseSchedule& base, const float* logits) {
  NoiseSchedule s;
  double cumprod = 1.0;
  for (int t = 0; t < base.steps(); ++t) {
    const double b0 = base.betas[std::size_t(t)];
    const double beta = t == 0 ? b0 : 1 / (1 + std::exp(-(double(logits[t - 1]) + std::log(b0 / (1 - b0)))));
    cumprod *= 1 - beta;
    s.betas.push_back(beta);
    s.alphas_cumprod.push_back(cumprod);
  }
  return s;
}

namespace {

// The row's bound term at 0-indexed t ≥ 1 as a function of (β_t, ᾱ_t, ᾱ_{t−1}) alone, with the
// network's outputs held: a two-step schedule carries the three numbers to row_bound_nats.
double row_nats(double beta, double abar, double abar_prev, ReverseVariance v, std::int64_t dim, const double* e,
                const float* params, std::vector<double>& delta) {
  NoiseSchedule two;
  two.betas = {0.0, beta};
  two.alphas_cumprod = {abar_prev, abar};
  const double k = beta / std::sqrt((1 - beta) * (1 - abar));
  for (std::int64_t d = 0; d < dim; ++d) delta[std::size_t(d)] = k * e[d];
  return row_bound_nats(two, 1, v, dim, delta.data(), params);
}

}  // namespace

void add_beta_logit_gradient(const NoiseSchedule& s, ReverseVariance variance,
                             std::int64_t n, std::int64_t dim, const float* t, const float* x0, const float* eps,
                             const float* out, const float* dx, double grad_scale, float* g_logits) {
  const int T = s.steps();
  const std::int64_t width = dim + variance_outputs(variance, dim);
  // Gradients with respect to β_s and to ᾱ_s, summed over rows, then chained to the logits.
  std::vector<double> g_beta(std::size_t(T), 0.0), g_abar(std::size_t(T), 0.0);
  std::vector<double> e(static_cast<std::size_t>(dim)), delta(static_cast<std::size_t>(dim));
  const double w = double(T) / double(dim);
  for (std::int64_t j = 0; j < n; ++j) {
    const int ti = int(t[j]);
    const float* o = out + j * width;
    // The prior: ∂/∂ᾱ_T of ½ Σ (ᾱ_T x0² + 1 − ᾱ_T − 1 − ln(1 − ᾱ_T)), divided by dim.
    const double abT = s.alphas_cumprod.back();
    for (std::int64_t d = 0; d < dim; ++d)
      g_abar[std::size_t(T - 1)] += 0.5 * (double(x0[j * dim + d]) * x0[j * dim + d] - 1 + 1 / (1 - abT)) / double(dim);
    if (ti == 0) continue;  // the decoder depends only on β_1, which is not learned
    const double beta = s.betas[std::size_t(ti)], A = s.alphas_cumprod[std::size_t(ti)],
                 P = s.alphas_cumprod[std::size_t(ti - 1)];
    for (std::int64_t d = 0; d < dim; ++d) e[std::size_t(d)] = double(o[d]) - double(eps[j * dim + d]);
    // Central differences with steps relative to each number's distance from its bounds.
    auto partial = [&](int which) {
      double x[3] = {beta, A, P};
      const double h = 1e-6 * std::min(x[which], 1 - x[which]);
      x[which] += h;
      const double up = row_nats(x[0], x[1], x[2], variance, dim, e.data(), o + dim, delta);
      x[which] -= 2 * h;
      const double down = row_nats(x[0], x[1], x[2], variance, dim, e.data(), o + dim, delta);
      return (up - down) / (2 * h);
    };
    g_beta[std::size_t(ti)] += w * partial(0);
    g_abar[std::size_t(ti - 1)] += w * partial(2);
    // ᾱ_t: the closed form, and x_t's move, ∂x_t/∂ᾱ_t = x0 / (2 sqrt ᾱ_t) − ε / (2 sqrt(1 − ᾱ_t)).
    double through_x = 0;
    for (std::int64_t d = 0; d < dim; ++d)
      through_x += double(dx[j * dim + d]) *
                   (x0[j * dim + d] / (2 * std::sqrt(A)) - double(eps[j * dim + d]) / (2 * std::sqrt(1 - A)));
    g_abar[std::size_t(ti)] += w * partial(1) + through_x / grad_scale;  // dx carries grad_scale already
  }
  // ᾱ_t = Π_{s ≤ t} (1 − β_s): ∂ᾱ_t/∂β_s = −ᾱ_t / (1 − β_s) for s ≤ t.
  double suffix = 0;  // Σ_{t ≥ s} g_abar[t] ᾱ_t
  for (int sidx = T - 1; sidx >= 1; --sidx) {
    suffix += g_abar[std::size_t(sidx)] * s.alphas_cumprod[std::size_t(sidx)];
    const double b = s.betas[std::size_t(sidx)];
    const double g = g_beta[std::size_t(sidx)] - suffix / (1 - b);
    g_logits[sidx - 1] += float(grad_scale * g * b * (1 - b));  // ∂β/∂p = β (1 − β)
  }
}

}  // namespace carnot
