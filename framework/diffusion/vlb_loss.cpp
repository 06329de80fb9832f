#include "framework/diffusion/vlb_loss.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "framework/core/error.h"

namespace carnot {

LossKind loss_kind_of(const std::string& name) {
  if (name == "simple") return LossKind::kSimple;
  if (name == "vlb") return LossKind::kVlb;
  if (name == "hybrid") return LossKind::kHybrid;
  throw Error("unknown diffusion.loss '" + name + "'");
}

double bound_loss(const BoundLossConfig& config, const NoiseSchedule& s, std::int64_t n,
                  std::int64_t dim, const float* t, const float* eps, const float* out,
                  double grad_scale, float* dout) {
  const std::int64_t P = variance_outputs(config.variance, dim), width = dim + P;
  const double T = double(s.steps());
  const double simple_w = config.kind == LossKind::kVlb ? 0.0 : 1.0;
  const double vlb_w = config.kind == LossKind::kVlb ? 1.0 : config.kind == LossKind::kHybrid ? config.vlb_weight : 0.0;
  const bool mean_from_vlb = config.kind == LossKind::kVlb;
  std::vector<double> e(static_cast<std::size_t>(dim)), delta(e.size()), g_delta(e.size()),
      g_params(static_cast<std::size_t>(std::max<std::int64_t>(P, 1)));
  double total = 0;
  for (std::int64_t j = 0; j < n; ++j) {
    const int ti = int(t[j]);
    const double beta = s.betas[std::size_t(ti)], abar = s.alphas_cumprod[std::size_t(ti)];
    const double k = beta / std::sqrt((1 - beta) * (1 - abar));  // μ̃ − μ = k (ε̂ − ε)
    const float* o = out + j * width;
    float* g = dout + j * width;
    double row = 0;
    for (std::int64_t d = 0; d < dim; ++d) {
      e[std::size_t(d)] = double(o[d]) - double(eps[j * dim + d]);
      delta[std::size_t(d)] = k * e[std::size_t(d)];
      row += simple_w * e[std::size_t(d)] * e[std::size_t(d)] / double(dim);
    }
    const double w = vlb_w * T / double(dim);
    if (vlb_w > 0) row += w * row_bound_nats(s, ti, config.variance, dim, delta.data(), o + dim, g_delta.data(),
                                             g_params.data());
    for (std::int64_t d = 0; d < dim; ++d) {
      const double g_eps = simple_w * 2 * e[std::size_t(d)] / double(dim) +
                           (mean_from_vlb ? w * k * g_delta[std::size_t(d)] : 0.0);
      g[d] = float(grad_scale * g_eps);
    }
    for (std::int64_t q = 0; q < P; ++q) g[dim + q] = float(vlb_w > 0 ? grad_scale * w * g_params[std::size_t(q)] : 0.0);
    total += row;
  }
  return total;
}

}  // namespace carnot
