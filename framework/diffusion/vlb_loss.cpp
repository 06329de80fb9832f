#include "framework/diffusion/vlb_loss.h"

#include <cmath>

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
  const bool learned = config.variance == ReverseVariance::kLearned;
  const std::int64_t width = learned ? 2 * dim : dim;
  const double T = double(s.steps());
  const double simple_w = config.kind == LossKind::kSimple || config.kind == LossKind::kHybrid ? 1.0 : 0.0;
  const double vlb_w = config.kind == LossKind::kVlb ? 1.0 : config.kind == LossKind::kHybrid ? config.vlb_weight : 0.0;
  const bool mean_from_vlb = config.kind == LossKind::kVlb;
  double total = 0;
  for (std::int64_t j = 0; j < n; ++j) {
    const int ti = int(t[j]);
    const double beta = s.betas[std::size_t(ti)], abar = s.alphas_cumprod[std::size_t(ti)];
    const double k2 = beta * beta / ((1 - beta) * (1 - abar));
    const double post_var = posterior_variance(s, ti);
    const float* o = out + j * width;
    float* g = dout + j * width;
    double row = 0;
    for (std::int64_t d = 0; d < dim; ++d) {
      const double e = double(o[d]) - double(eps[j * dim + d]);
      row += simple_w * e * e / double(dim);
      double g_eps = simple_w * 2 * e / double(dim);
      if (vlb_w > 0) {
        const double logit = learned ? double(o[dim + d]) : 0.0;
        const double var = reverse_variance(s, ti, config.variance, logit);
        const BoundTerm b = bound_term(post_var, var, k2 * e * e, ti == 0);
        const double w = vlb_w * T / double(dim);
        row += w * b.nats;
        if (mean_from_vlb) g_eps += w * b.d_sq * 2 * k2 * e;
        // ln σ² = ln sigmoid(u) with u = v + logit β, so ∂ ln σ² / ∂v = 1 − σ².
        if (learned) g[dim + d] = float(grad_scale * w * b.d_log_var * (1 - var));
      } else if (learned) {
        g[dim + d] = 0.0f;
      }
      g[d] = float(grad_scale * g_eps);
    }
    total += row;
  }
  return total;
}

}  // namespace carnot
