// The ε-prediction objective (DDPM's L_simple): for global sample i of step s draw t ~ U{0..T-1}
// and ε ~ N(0, I) from Philox, form x_t = sqrt(ᾱ_t) x_0 + sqrt(1 − ᾱ_t) ε, and regress ε.
#pragma once
#include <cstdint>
#include <memory>

#include "framework/core/device.h"
#include "framework/diffusion/schedule.h"

namespace carnot {

// Fills t[n] (as floats, the model's time input), eps[n, dim] and x_t[n, dim] for samples
// [first, first + n) of `step`, given their clean points x0[n, dim].
void eps_objective_inputs(const NoiseSchedule& schedule, std::uint64_t seed, std::uint32_t step,
                          std::uint32_t first, std::int64_t n, std::int64_t dim, const float* x0,
                          float* t, float* eps, float* x_t);

// The same computation behind one interface, on the device the trainer chose. The GPU version
// (eps_objective_cuda.cpp, built with CUDA) copies x0 in and t, ε, x_t out through device buffers.
class EpsObjectiveInputs {
 public:
  virtual ~EpsObjectiveInputs() = default;
  virtual void make(std::uint64_t seed, std::uint32_t step, std::uint32_t first, std::int64_t n,
                    const float* x0, float* t, float* eps, float* x_t) = 0;
};

std::unique_ptr<EpsObjectiveInputs> make_eps_objective_inputs(const NoiseSchedule& schedule,
                                                              const DeviceChoice& device,
                                                              std::int64_t max_rows,
                                                              std::int64_t dim);

}  // namespace carnot
