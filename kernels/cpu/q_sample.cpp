// The ε objective's inputs on the CPU: the oracle for kernels/cuda/q_sample.cu, drawing the same
// Philox numbers (framework/core/random.h) sample by sample.
#include <cmath>

#include "framework/core/random.h"
#include "kernels/cpu/kernels.h"

namespace carnot::cpu {

void q_sample_eps(const double* alphas_cumprod, int steps, std::uint64_t seed, std::uint32_t step,
                  std::uint32_t first, std::int64_t n, std::int64_t dim, const float* x0, float* t, float* eps,
                  float* x_t) {
  for (std::int64_t j = 0; j < n; ++j) {
    const std::uint32_t i = first + std::uint32_t(j);
    const Philox4x32 r = philox_draw(seed, step, i, RngStream::kDiffusionTime, 0);
    const std::uint32_t ti = uniform_below(r.v[0], std::uint32_t(steps));
    t[j] = float(ti);
    philox_normals(seed, step, i, RngStream::kNoise, dim, eps + j * dim);
    const double a = std::sqrt(alphas_cumprod[ti]), b = std::sqrt(1.0 - alphas_cumprod[ti]);
    for (std::int64_t d = 0; d < dim; ++d) x_t[j * dim + d] = float(a * x0[j * dim + d] + b * eps[j * dim + d]);
  }
}

}  // namespace carnot::cpu
