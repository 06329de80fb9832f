#include "framework/diffusion/edm.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "framework/core/error.h"
#include "framework/core/random.h"
#include "framework/diffusion/ddpm_sampler.h"

namespace carnot {

EdmConfig EdmConfig::from_spec(const DiffusionSpec& spec, double data_std) {
  EdmConfig c;
  c.sigma_min = spec.sigma_min, c.sigma_max = spec.sigma_max, c.rho = spec.rho;
  c.sigma_data = spec.sigma_data > 0 ? spec.sigma_data : data_std;
  c.p_mean = spec.p_mean, c.p_std = spec.p_std;
  return c;
}

EdmScaling edm_scaling(double sigma, double sigma_data) {
  const double s2 = sigma * sigma + sigma_data * sigma_data;
  return {sigma_data * sigma_data / s2, sigma * sigma_data / std::sqrt(s2), 1 / std::sqrt(s2), 0.25 * std::log(sigma)};
}

double edm_time_input(double sigma) { return 1000 * 0.25 * std::log(sigma); }

void edm_inputs(const EdmConfig& config, std::uint64_t seed, std::uint32_t step, std::uint32_t first,
                std::int64_t n, std::int64_t dim, const float* y, float* net_in, float* t_in, float* target) {
  std::vector<double> noise(static_cast<std::size_t>(dim));
  for (std::int64_t j = 0; j < n; ++j) {
    const std::uint32_t i = first + std::uint32_t(j);
    const Philox4x32 r = philox_draw(seed, step, i, RngStream::kDiffusionTime, 0);
    double z0, z1;
    box_muller(r.v[0], r.v[1], &z0, &z1);
    const double sigma = std::exp(config.p_mean + config.p_std * z0);
    const EdmScaling c = edm_scaling(sigma, config.sigma_data);
    t_in[j] = float(edm_time_input(sigma));
    philox_normals(seed, step, i, RngStream::kNoise, dim, noise.data());
    for (std::int64_t d = 0; d < dim; ++d) {
      const std::int64_t k = j * dim + d;
      const double x = y[k] + sigma * noise[std::size_t(d)];
      net_in[k] = float(c.c_in * x);
      target[k] = float((y[k] - c.c_skip * x) / c.c_out);
    }
  }
}

std::vector<double> edm_sigmas(const EdmConfig& config, int steps) {
  CARNOT_CHECK(steps >= 1, "EDM sampling needs at least one step, got ", steps);
  std::vector<double> s;
  const double a = std::pow(config.sigma_max, 1 / config.rho), b = std::pow(config.sigma_min, 1 / config.rho);
  for (int i = 0; i < steps; ++i)
    s.push_back(steps == 1 ? config.sigma_max : std::pow(a + double(i) / (steps - 1) * (b - a), config.rho));
  s.push_back(0.0);
  return s;
}

Denoiser edm_denoiser(const EdmConfig& config, std::function<void(const Tensor&, const float*, const Tensor&)> network,
                      std::int64_t max_rows, std::int64_t dim) {
  auto in = std::make_shared<Buffer>(DType::F32, Shape{max_rows, dim});
  auto f = std::make_shared<Buffer>(DType::F32, Shape{max_rows, dim});
  auto t = std::make_shared<std::vector<float>>(static_cast<std::size_t>(max_rows));
  return [=](const Tensor& x, double sigma, const Tensor& d) {
    const std::int64_t n = x.dim(0);
    const EdmScaling c = edm_scaling(sigma, config.sigma_data);
    const float* xv = x.data<float>();
    float* iv = in->data<float>();
    for (std::int64_t k = 0; k < n * dim; ++k) iv[k] = float(c.c_in * xv[k]);
    std::fill(t->begin(), t->begin() + n, float(edm_time_input(sigma)));
    network(in->tensor().rows(0, n), t->data(), f->tensor().rows(0, n));
    const float* fv = f->data<float>();
    for (std::int64_t k = 0; k < n * dim; ++k) d.data<float>()[k] = float(c.c_skip * xv[k] + c.c_out * fv[k]);
  };
}

void edm_sample(const Denoiser& denoise, const EdmConfig& config, int steps, EdmMethod method, std::uint64_t seed,
                std::uint32_t first, std::int64_t n, std::int64_t dim, std::int64_t chunk, float* out) {
  const std::vector<double> sigma = edm_sigmas(config, steps);
  Buffer d_buf(DType::F32, Shape{chunk, dim}), x2_buf(DType::F32, Shape{chunk, dim});
  std::vector<double> slope(static_cast<std::size_t>(chunk * dim));
  for (std::int64_t c0 = 0; c0 < n; c0 += chunk) {
    const std::int64_t m = std::min(chunk, n - c0), e = m * dim;
    float* x = out + c0 * dim;
    draw_initial_noise(seed, first + std::uint32_t(c0), m, dim, x);
    for (std::int64_t k = 0; k < e; ++k) x[k] = float(config.sigma_max * double(x[k]));
    const Tensor xt(x, DType::F32, Shape{m, dim}), d = d_buf.tensor().rows(0, m), x2 = x2_buf.tensor().rows(0, m);
    for (int i = 0; i < steps; ++i) {
      const double s = sigma[std::size_t(i)], s_next = sigma[std::size_t(i) + 1], h = s_next - s;
      denoise(xt, s, d);
      for (std::int64_t k = 0; k < e; ++k) slope[std::size_t(k)] = (double(x[k]) - d.data<float>()[k]) / s;
      if (method == EdmMethod::kEuler || s_next == 0) {
        for (std::int64_t k = 0; k < e; ++k) x[k] = float(double(x[k]) + h * slope[std::size_t(k)]);
        continue;
      }
      float* xe = x2.data<float>();  // Euler's prediction, then the trapezoid's correction
      for (std::int64_t k = 0; k < e; ++k) xe[k] = float(double(x[k]) + h * slope[std::size_t(k)]);
      denoise(x2, s_next, d);
      for (std::int64_t k = 0; k < e; ++k) {
        const double slope_next = (double(xe[k]) - d.data<float>()[k]) / s_next;
        x[k] = float(double(x[k]) + h * 0.5 * (slope[std::size_t(k)] + slope_next));
      }
    }
  }
}

void ExactDenoiser::operator()(const Tensor& x, double sigma, const Tensor& d) const {
  const std::int64_t n = x.dim(0), D = data_.dim();
  std::vector<double> r(data_.components());
  for (std::int64_t j = 0; j < n; ++j) {
    const float* xj = x.data<float>() + j * D;
    data_.responsibilities(xj, 1.0, sigma, r.data());
    for (std::int64_t q = 0; q < D; ++q) {
      double y = 0;
      for (std::size_t k = 0; k < r.size(); ++k) {
        const double s2 = data_.stds[k][q] * data_.stds[k][q], mu = data_.means[k][q];
        y += r[k] * (mu + s2 / (s2 + sigma * sigma) * (xj[q] - mu));
      }
      d.data<float>()[j * D + q] = float(y);
    }
  }
}

}  // namespace carnot
