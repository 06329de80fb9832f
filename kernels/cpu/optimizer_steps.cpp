// Optimizer steps over a flat fp32 buffer (AdamW, SGD) and the EMA of weights.
#include <cmath>

#include "kernels/cpu/kernels.h"

namespace carnot::cpu {

// PyTorch's torch.optim.AdamW (foreach=False): decay the weight first, then the Adam update with
// bias-corrected moments. step counts from 1.
void adamw_step(std::int64_t n, float* param, const float* grad, float* m, float* v, float lr,
                float beta1, float beta2, float eps, float weight_decay, std::int64_t step) {
  const double bc1 = 1.0 - std::pow(double(beta1), double(step));
  const double bc2 = 1.0 - std::pow(double(beta2), double(step));
  const float step_size = float(lr / bc1);
  const float bc2_sqrt = float(std::sqrt(bc2));
  const float decay = 1.0f - lr * weight_decay;
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = grad[i];
    m[i] = beta1 * m[i] + (1.0f - beta1) * g;
    v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
    const float denom = std::sqrt(v[i]) / bc2_sqrt + eps;
    param[i] = param[i] * decay - step_size * m[i] / denom;
  }
}

void sgd_step(std::int64_t n, float* param, const float* grad, float* buf, float lr, float momentum,
              float weight_decay, bool nesterov) {
  for (std::int64_t i = 0; i < n; ++i) {
    float g = grad[i] + weight_decay * param[i];
    if (momentum > 0) {
      buf[i] = momentum * buf[i] + g;
      g = nesterov ? g + momentum * buf[i] : buf[i];
    }
    param[i] -= lr * g;
  }
}

void ema_update(std::int64_t n, float decay, const float* param, float* ema) {
  const float keep = decay, take = 1.0f - decay;
  for (std::int64_t i = 0; i < n; ++i) ema[i] = keep * ema[i] + take * param[i];
}

}  // namespace carnot::cpu
