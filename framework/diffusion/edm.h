// EDM (Karras et al. 2022, "Elucidating the design space"): continuous noise levels σ with
// x = y + σ n, and a preconditioned denoiser
//   D(x; σ) = c_skip(σ) x + c_out(σ) F(c_in(σ) x; c_noise(σ)),
//   c_skip = σ_d² / (σ² + σ_d²),  c_out = σ σ_d / sqrt(σ² + σ_d²),  c_in = 1 / sqrt(σ² + σ_d²),
//   c_noise = ¼ ln σ (the network sees 1000 c_noise, the range of a DDPM step index).
// Training draws ln σ ~ N(P_mean, P_std²); EDM's weight λ(σ) = (σ² + σ_d²) / (σ σ_d)² times
// ‖D − y‖² is exactly ‖F − F_target‖² with F_target = (y − c_skip x) / c_out, so the network
// regresses F_target with unit weight. Sampling integrates the probability-flow ODE
// dx/dσ = (x − D(x; σ)) / σ from x = σ_max n over the ρ-spaced levels
//   σ_i = (σ_max^{1/ρ} + i / (N − 1) (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ,  i < N,  σ_N = 0,
// by Euler or by Heun (EDM's Algorithm 1 without churn: 2N − 1 evaluations).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/data/gaussian_mixture.h"
#include "framework/io/job_spec.h"

namespace carnot {

struct EdmConfig {
  double sigma_min = 0.002, sigma_max = 80, rho = 7;
  double sigma_data = 0.5;
  double p_mean = -1.2, p_std = 1.2;
  // From the spec; sigma_data 0 there means the data's standard deviation, given here.
  static EdmConfig from_spec(const DiffusionSpec& spec, double data_std);
};

struct EdmScaling {
  double c_skip, c_out, c_in, c_noise;
};
EdmScaling edm_scaling(double sigma, double sigma_data);
double edm_time_input(double sigma);  // 1000 c_noise

// For samples [first, first + n) of `step`: the network's input c_in x [n, dim], its time input
// t_in[n], and the target F_target [n, dim], from clean points y[n, dim].
void edm_inputs(const EdmConfig& config, std::uint64_t seed, std::uint32_t step, std::uint32_t first,
                std::int64_t n, std::int64_t dim, const float* y, float* net_in, float* t_in, float* target);

// σ_0 > … > σ_{N−1} = σ_min, then σ_N = 0.
std::vector<double> edm_sigmas(const EdmConfig& config, int steps);

// D(x; σ) for x[n, dim] at one noise level into d[n, dim].
using Denoiser = std::function<void(const Tensor& x, double sigma, const Tensor& d)>;
// The preconditioned network as a Denoiser; `network` maps (c_in x, t_in) to F and needs scratch
// of [max_rows, dim] twice.
Denoiser edm_denoiser(const EdmConfig& config, std::function<void(const Tensor&, const float*, const Tensor&)> network,
                      std::int64_t max_rows, std::int64_t dim);

enum class EdmMethod { kEuler, kHeun };
void edm_sample(const Denoiser& denoise, const EdmConfig& config, int steps, EdmMethod method, std::uint64_t seed,
                std::uint32_t first, std::int64_t n, std::int64_t dim, std::int64_t chunk, float* out);

// The exact denoiser E[y | x] of Gaussian-mixture data, in float64: per component and dimension
// x | k ~ N(μ, s² + σ²) and E[y | x, k] = μ + s² / (s² + σ²) (x − μ), weighted by the
// responsibilities.
class ExactDenoiser {
 public:
  explicit ExactDenoiser(GaussianMixture data) : data_(std::move(data)) {}
  void operator()(const Tensor& x, double sigma, const Tensor& d) const;

 private:
  GaussianMixture data_;
};

}  // namespace carnot
