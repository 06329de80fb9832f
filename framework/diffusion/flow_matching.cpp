#include "framework/diffusion/flow_matching.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "framework/core/error.h"
#include "framework/core/random.h"
#include "framework/diffusion/ddpm_sampler.h"

namespace carnot {

FlowTimes FlowTimes::from_spec(const DiffusionSpec& spec) {
  FlowTimes f;
  f.logit_normal = spec.flow_times == "logit_normal";
  f.mean = spec.logit_normal_mean;
  f.std = spec.logit_normal_std;
  f.shift = spec.flow_shift;
  return f;
}

double shift_time(double t, double shift) { return shift * t / (1 + (shift - 1) * t); }

double draw_flow_time(const FlowTimes& times, std::uint64_t seed, std::uint32_t step, std::uint32_t index) {
  const Philox4x32 r = philox_draw(seed, step, index, RngStream::kDiffusionTime, 0);
  double t;
  if (times.logit_normal) {
    double n0, n1;
    box_muller(r.v[0], r.v[1], &n0, &n1);
    t = 1 / (1 + std::exp(-(times.mean + times.std * n0)));
  } else {
    t = uniform_open01(r.v[0]);
  }
  return shift_time(t, times.shift);
}

void flow_inputs(const FlowTimes& times, std::uint64_t seed, std::uint32_t step, std::uint32_t first,
                 std::int64_t n, std::int64_t dim, const float* x0, float* t_in, float* v, float* z) {
  std::vector<double> eps(static_cast<std::size_t>(dim));
  for (std::int64_t j = 0; j < n; ++j) {
    const std::uint32_t i = first + std::uint32_t(j);
    const double t = draw_flow_time(times, seed, step, i);
    t_in[j] = float(kFlowTimeScale * t);
    philox_normals(seed, step, i, RngStream::kNoise, dim, eps.data());
    for (std::int64_t d = 0; d < dim; ++d) {
      const std::int64_t k = j * dim + d;
      z[k] = float((1 - t) * x0[k] + t * eps[std::size_t(d)]);
      v[k] = float(eps[std::size_t(d)] - x0[k]);
    }
  }
}

void flow_euler_sample(const EpsPredictor& velocity, int steps, double shift, std::uint64_t seed,
                       std::uint32_t first, std::int64_t n, std::int64_t dim, std::int64_t chunk, float* out) {
  CARNOT_CHECK(steps >= 1, "flow_euler needs at least one step, got ", steps);
  Buffer v_buf(DType::F32, Shape{chunk, dim});
  std::vector<float> t_in(static_cast<std::size_t>(chunk));
  for (std::int64_t c0 = 0; c0 < n; c0 += chunk) {
    const std::int64_t m = std::min(chunk, n - c0);
    float* z = out + c0 * dim;
    draw_initial_noise(seed, first + std::uint32_t(c0), m, dim, z);
    const Tensor zt(z, DType::F32, Shape{m, dim}), v = v_buf.tensor().rows(0, m);
    for (int i = 0; i < steps; ++i) {
      const double t = shift_time(1 - double(i) / steps, shift), t_next = shift_time(1 - double(i + 1) / steps, shift);
      std::fill(t_in.begin(), t_in.begin() + m, float(kFlowTimeScale * t));
      velocity(zt, t_in.data(), v);
      for (std::int64_t k = 0; k < m * dim; ++k) z[k] = float(double(z[k]) + (t_next - t) * double(v.data<float>()[k]));
    }
  }
}

void ExactVelocity::operator()(const Tensor& z, const float* t_in, const Tensor& v) const {
  const std::int64_t n = z.dim(0), D = data_.dim();
  std::vector<double> r(data_.components());
  for (std::int64_t j = 0; j < n; ++j) {
    const double t = double(t_in[j]) / kFlowTimeScale, a = 1 - t;
    const float* zj = z.data<float>() + j * D;
    data_.responsibilities(zj, a, t, r.data());
    for (std::int64_t d = 0; d < D; ++d) {
      double vel = 0;
      for (std::size_t k = 0; k < r.size(); ++k) {
        const double mu = data_.means[k][d], s = data_.stds[k][d];
        const double V = a * a * s * s + t * t, e = zj[d] - a * mu;
        vel += r[k] * (t * e / V - (mu + a * s * s * e / V));
      }
      v.data<float>()[j * D + d] = float(vel);
    }
  }
}

}  // namespace carnot
