#include "framework/diffusion/reverse_variance.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "framework/core/error.h"

namespace carnot {

ReverseVariance reverse_variance_of(const std::string& name) {
  if (name == "fixed_small") return ReverseVariance::kPosterior;
  if (name == "fixed_large") return ReverseVariance::kBeta;
  if (name == "learned") return ReverseVariance::kLearned;
  if (name == "learned_full") return ReverseVariance::kLearnedFull;
  throw Error("unknown diffusion.variance '" + name + "'");
}

std::int64_t variance_outputs(ReverseVariance v, std::int64_t dim) {
  if (v == ReverseVariance::kLearned) return dim;
  if (v == ReverseVariance::kLearnedFull) return dim * (dim + 1) / 2;
  return 0;
}

double posterior_variance(const NoiseSchedule& s, int t) {
  if (t == 0) return 0.0;
  return (1 - s.alphas_cumprod[std::size_t(t - 1)]) / (1 - s.alphas_cumprod[std::size_t(t)]) * s.betas[std::size_t(t)];
}

double reverse_variance(const NoiseSchedule& s, int t, ReverseVariance v, double logit) {
  const double beta = s.betas[std::size_t(t)];
  switch (v) {
    case ReverseVariance::kPosterior:
      return t > 0 ? posterior_variance(s, t) : beta;
    case ReverseVariance::kLearned: {
      // sigmoid(logit + ln(β / (1 − β))), clamped so that σ² stays in (0, 1) with a finite log.
      const double u = std::clamp(logit + std::log(beta) - std::log1p(-beta), -30.0, 30.0);
      return u >= 0 ? 1 / (1 + std::exp(-u)) : std::exp(u) / (1 + std::exp(u));
    }
    default:
      return beta;
  }
}

BoundTerm bound_term(double posterior_var, double var, double sq, bool decoder) {
  const double log_var = std::log(var);
  const double c = decoder ? 0.5 * std::log(2 * M_PI) : -0.5 * (std::log(posterior_var) + 1);
  const double r = (posterior_var + sq) / var;
  return BoundTerm{0.5 * (log_var + r) + c, 0.5 / var, 0.5 * (1 - r)};
}

namespace {

// The full covariance's term with L = sqrt(β) M (row-major lower triangle, dim × dim), W = L⁻¹
// and y = W δ:  nats = ½ (β̃ ‖W‖² + ‖y‖²) + Σ ln L_ii + c, and
//   ∂/∂δ = Wᵀ y,   ∂/∂L = lower(−β̃ Wᵀ W Wᵀ − Wᵀ y yᵀ) + diag(1 / L_ii).
double full_row_nats(double beta, double post_var, double c, std::int64_t dim, const double* delta,
                     const float* params, double* g_delta, double* g_params) {
  const std::size_t D = std::size_t(dim);
  std::vector<double> L(D * D, 0.0), W(D * D, 0.0), y(D, 0.0);
  const double sb = std::sqrt(beta);
  std::size_t p = D;  // off-diagonal parameters follow the dim log-diagonal ones
  for (std::size_t i = 0; i < D; ++i) {
    L[i * D + i] = sb * std::exp(std::clamp(double(params[i]), -15.0, 15.0));
    for (std::size_t j = 0; j < i; ++j) L[i * D + j] = sb * double(params[p++]);
  }
  // W = L⁻¹ by forward substitution, column by column.
  for (std::size_t col = 0; col < D; ++col)
    for (std::size_t i = col; i < D; ++i) {
      double s = i == col ? 1.0 : 0.0;
      for (std::size_t k = col; k < i; ++k) s -= L[i * D + k] * W[k * D + col];
      W[i * D + col] = s / L[i * D + i];
    }
  double frob = 0, yy = 0, log_det = 0;
  for (std::size_t i = 0; i < D; ++i) {
    for (std::size_t k = 0; k <= i; ++k) {
      y[i] += W[i * D + k] * delta[k];
      frob += W[i * D + k] * W[i * D + k];
    }
    yy += y[i] * y[i];
    log_det += std::log(L[i * D + i]);
  }
  const double nats = 0.5 * (post_var * frob + yy) + log_det + c;
  if (!g_delta) return nats;
  for (std::size_t k = 0; k < D; ++k) {  // Wᵀ y
    double s = 0;
    for (std::size_t i = k; i < D; ++i) s += W[i * D + k] * y[i];
    g_delta[k] = s;
  }
  if (!g_params) return nats;
  // WtW = Wᵀ W, then G = −β̃ WtW Wᵀ − (Wᵀ y) yᵀ on the lower triangle.
  std::vector<double> WtW(D * D, 0.0);
  for (std::size_t a = 0; a < D; ++a)
    for (std::size_t b = 0; b < D; ++b) {
      double s = 0;
      for (std::size_t i = std::max(a, b); i < D; ++i) s += W[i * D + a] * W[i * D + b];
      WtW[a * D + b] = s;
    }
  p = D;
  for (std::size_t i = 0; i < D; ++i)
    for (std::size_t j = 0; j <= i; ++j) {
      double wwwt = 0;  // (WᵀW Wᵀ)_ij = Σ_k WtW_ik W_jk
      for (std::size_t k = 0; k <= j; ++k) wwwt += WtW[i * D + k] * W[j * D + k];
      double g = -post_var * wwwt - g_delta[i] * y[j];
      if (i == j) {
        g += 1 / L[i * D + i];
        g_params[i] = g * L[i * D + i];  // ∂L_ii/∂a_i = L_ii
      } else {
        g_params[p++] = g * sb;          // ∂L_ij/∂b_ij = sqrt(β)
      }
    }
  return nats;
}

}  // namespace

double row_bound_nats(const NoiseSchedule& s, int t, ReverseVariance v, std::int64_t dim, const double* delta,
                      const float* params, double* g_delta, double* g_params) {
  const bool decoder = t == 0;
  const double post_var = posterior_variance(s, t);
  if (v == ReverseVariance::kLearnedFull) {
    const double c = decoder ? 0.5 * double(dim) * std::log(2 * M_PI) : -0.5 * double(dim) * (std::log(post_var) + 1);
    return full_row_nats(s.betas[std::size_t(t)], post_var, c, dim, delta, params, g_delta, g_params);
  }
  double nats = 0;
  for (std::int64_t d = 0; d < dim; ++d) {
    const double var = reverse_variance(s, t, v, v == ReverseVariance::kLearned ? double(params[d]) : 0.0);
    const BoundTerm b = bound_term(post_var, var, delta[d] * delta[d], decoder);
    nats += b.nats;
    if (g_delta) g_delta[d] = b.d_sq * 2 * delta[d];
    // ln σ² = ln sigmoid(u) with u = v + logit β, so ∂ ln σ² / ∂v = 1 − σ².
    if (g_params && v == ReverseVariance::kLearned) g_params[d] = b.d_log_var * (1 - var);
  }
  return nats;
}

void reverse_noise(const NoiseSchedule& s, int t, ReverseVariance v, std::int64_t dim, const float* params,
                   const double* z, double* out) {
  if (v != ReverseVariance::kLearnedFull) {
    for (std::int64_t d = 0; d < dim; ++d)
      out[d] = std::sqrt(reverse_variance(s, t, v, v == ReverseVariance::kLearned ? double(params[d]) : 0.0)) * z[d];
    return;
  }
  const double sb = std::sqrt(s.betas[std::size_t(t)]);
  std::int64_t p = dim;
  for (std::int64_t i = 0; i < dim; ++i) {
    double x = std::exp(std::clamp(double(params[i]), -15.0, 15.0)) * z[i];
    for (std::int64_t j = 0; j < i; ++j) x += double(params[p++]) * z[j];
    out[i] = sb * x;
  }
}

}  // namespace carnot
