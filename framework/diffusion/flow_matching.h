// Flow matching / rectified flow (Lipman et al. 2023; Liu et al. 2023; SD3, Esser et al. 2024):
//   z_t = (1 − t) x_0 + t ε,  t ∈ [0, 1],  and the network regresses the velocity v = ε − x_0.
// Training times: uniform, or logit-normal (t = sigmoid(m + s n), SD3's default m = 0, s = 1),
// then SD3's shift t ← shift·t / (1 + (shift − 1) t), which moves time toward the noise (shift > 1).
// The network sees 1000 t, the same range as a DDPM step index, so one time embedding serves both.
// Sampling integrates dz/dt = v̂(z, t) from t = 1 (z = ε) to 0 with Euler steps on the same shifted grid.
#pragma once
#include <cstdint>
#include <string>

#include "framework/core/tensor.h"
#include "framework/data/gaussian_mixture.h"
#include "framework/diffusion/reverse_model.h"
#include "framework/io/job_spec.h"

namespace carnot {

constexpr double kFlowTimeScale = 1000.0;  // the network's time input is kFlowTimeScale · t

struct FlowTimes {
  bool logit_normal = false;
  double mean = 0, std = 1;  // of logit t, when logit-normal
  double shift = 1;          // SD3's time shift; 1 leaves t as drawn
  static FlowTimes from_spec(const DiffusionSpec& spec);
};

// SD3's shift of a time in [0, 1].
double shift_time(double t, double shift);
// Training time of global sample `index` at `step`, from Philox.
double draw_flow_time(const FlowTimes& times, std::uint64_t seed, std::uint32_t step, std::uint32_t index);

// For samples [first, first + n) of `step` with clean points x0[n, dim]: t_in[n] (the network's
// input, 1000 t), the target velocity v[n, dim] = ε − x0 and z[n, dim].
void flow_inputs(const FlowTimes& times, std::uint64_t seed, std::uint32_t step, std::uint32_t first,
                 std::int64_t n, std::int64_t dim, const float* x0, float* t_in, float* v, float* z);

// Euler on dz/dt = v̂ over K steps from t = 1 to 0 on the grid shift_time(1 − i/K); `velocity`
// has EpsPredictor's signature but returns v̂ for times given as 1000 t. Samples [first, first + n)
// start from the same initial noise as the other samplers.
void flow_euler_sample(const EpsPredictor& velocity, int steps, double shift, std::uint64_t seed,
                       std::uint32_t first, std::int64_t n, std::int64_t dim, std::int64_t chunk, float* out);

// The exact velocity E[ε − x_0 | z_t = z] for Gaussian-mixture data, computed in float64: per
// component k and dimension, z | k ~ N((1 − t) μ, V) with V = (1 − t)² s² + t², and
//   E[x_0 | z, k] = μ + (1 − t) s² (z − (1 − t) μ) / V,   E[ε | z, k] = t (z − (1 − t) μ) / V,
// weighted by the responsibilities r_k(z).
class ExactVelocity {
 public:
  explicit ExactVelocity(GaussianMixture data) : data_(std::move(data)) {}
  void operator()(const Tensor& z, const float* t_in, const Tensor& v) const;

 private:
  GaussianMixture data_;
};

}  // namespace carnot
