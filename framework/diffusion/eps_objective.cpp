#include "framework/diffusion/eps_objective.h"

#include "kernels/ops.h"

namespace carnot {

void eps_objective_inputs(const NoiseSchedule& schedule, std::uint64_t seed, std::uint32_t step,
                          std::uint32_t first, std::int64_t n, std::int64_t dim, const float* x0,
                          float* t, float* eps, float* x_t) {
  cpu_ops().q_sample_eps(schedule.alphas_cumprod.data(), schedule.steps(), seed, step, first, n, dim, x0, t, eps,
                         x_t);
}

}  // namespace carnot
