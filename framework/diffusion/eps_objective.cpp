#include "framework/diffusion/eps_objective.h"

#include <cmath>

#include "framework/core/error.h"
#include "framework/core/random.h"

namespace carnot {

void eps_objective_inputs(const NoiseSchedule& schedule, std::uint64_t seed, std::uint32_t step,
                          std::uint32_t first, std::int64_t n, std::int64_t dim, const float* x0,
                          float* t, float* eps, float* x_t) {
  for (std::int64_t j = 0; j < n; ++j) {
    const std::uint32_t i = first + std::uint32_t(j);
    const Philox4x32 r = philox_draw(seed, step, i, RngStream::kDiffusionTime, 0);
    const std::uint32_t ti = uniform_below(r.v[0], std::uint32_t(schedule.steps()));
    t[j] = float(ti);
    philox_normals(seed, step, i, RngStream::kNoise, dim, eps + j * dim);
    const double a = std::sqrt(schedule.alphas_cumprod[ti]);
    const double b = std::sqrt(1.0 - schedule.alphas_cumprod[ti]);
    for (std::int64_t d = 0; d < dim; ++d)
      x_t[j * dim + d] = float(a * x0[j * dim + d] + b * eps[j * dim + d]);
  }
}

namespace {

class CpuEpsObjectiveInputs final : public EpsObjectiveInputs {
 public:
  CpuEpsObjectiveInputs(const NoiseSchedule& s, std::int64_t dim) : schedule_(s), dim_(dim) {}
  void make(std::uint64_t seed, std::uint32_t step, std::uint32_t first, std::int64_t n,
            const float* x0, float* t, float* eps, float* x_t) override {
    eps_objective_inputs(schedule_, seed, step, first, n, dim_, x0, t, eps, x_t);
  }

 private:
  NoiseSchedule schedule_;
  std::int64_t dim_;
};

}  // namespace

#if CARNOT_WITH_CUDA
std::unique_ptr<EpsObjectiveInputs> make_cuda_eps_objective_inputs(const NoiseSchedule& schedule,
                                                                   std::int64_t max_rows,
                                                                   std::int64_t dim);
#endif

std::unique_ptr<EpsObjectiveInputs> make_eps_objective_inputs(const NoiseSchedule& schedule,
                                                              const DeviceChoice& device,
                                                              std::int64_t max_rows,
                                                              std::int64_t dim) {
#if CARNOT_WITH_CUDA
  if (device.gpu) return make_cuda_eps_objective_inputs(schedule, max_rows, dim);
#else
  (void)max_rows;
  CARNOT_CHECK(!device.gpu, "a GPU was chosen in a build without CUDA");
#endif
  return std::make_unique<CpuEpsObjectiveInputs>(schedule, dim);
}

}  // namespace carnot
