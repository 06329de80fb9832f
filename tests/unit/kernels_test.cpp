// CPU kernels against float64 references and finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/cpu/fast_math.h"
#include "kernels/ops.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

using test::randn;

TEST(Kernels, GemmMatchesFloat64ReferenceForAllTransposes) {
  std::mt19937_64 rng(test::fresh_seed("Kernels.Gemm"));
  const std::int64_t m = 7, n = 5, k = 33;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const auto a = randn(rng, m * k), b = randn(rng, k * n), c0 = randn(rng, m * n);
      std::vector<double> ref(c0);
      for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < n; ++j) {
          double s = 0;
          for (std::int64_t p = 0; p < k; ++p)
            s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
          ref[i * n + j] = 0.5 * s + 2.0 * c0[i * n + j];
        }
      std::vector<double> c64(c0);
      cpu_ops().gemm(DType::F64, ta, tb, m, n, k, 0.5, a.data(), ta ? m : k, b.data(), tb ? k : n,
                     2.0, c64.data(), n);
      for (std::size_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(c64[i], ref[i], 1e-12 * k);
      std::vector<float> a32(a.begin(), a.end()), b32(b.begin(), b.end()), c32(c0.begin(), c0.end());
      cpu_ops().gemm(DType::F32, ta, tb, m, n, k, 0.5, a32.data(), ta ? m : k, b32.data(),
                     tb ? k : n, 2.0, c32.data(), n);
      EXPECT_LT(test::rel_error(c32, ref, ref.size()), 1e-5) << "ta=" << ta << " tb=" << tb;
    }
}

TEST(Kernels, SiluBackwardMatchesFiniteDifferences) {
  std::mt19937_64 rng(test::fresh_seed("Kernels.Silu"));
  auto x = randn(rng, 64);
  for (double& v : x) v *= 3;
  const auto dy = randn(rng, 64);
  std::vector<double> dx(64), yp(1), ym(1);
  cpu_ops().silu_backward(DType::F64, 64, x.data(), dy.data(), dx.data());
  const double h = 1e-6;
  for (int i = 0; i < 64; ++i) {
    double xp = x[i] + h, xm = x[i] - h;
    cpu_ops().silu_forward(DType::F64, 1, &xp, yp.data());
    cpu_ops().silu_forward(DType::F64, 1, &xm, ym.data());
    EXPECT_NEAR(dx[i], dy[i] * (yp[0] - ym[0]) / (2 * h), 1e-8 * (1 + std::fabs(dx[i])));
  }
}

// The float path's exp_fast against libm's exp in float64, over the whole range SiLU meets.
TEST(Kernels, ExpFastMatchesFloat64Exp) {
  std::vector<double> got, want;
  for (double x = -87.0; x <= 88.0; x += 0.0137) {
    got.push_back(cpu::exp_fast(float(x)));
    want.push_back(std::exp(double(float(x))));
  }
  EXPECT_LT(test::rel_error(got, want, got.size()), 2e-7);
  // Relative error per point, reported rather than bounded (a float64 bound would not apply).
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] / want[i] - 1));
  std::printf("exp_fast: worst relative error %.3g over [-87, 88]\n", worst);
  for (float x : {-1000.0f, -100.0f, 100.0f, 1000.0f}) {
    const float s = cpu::sigmoid(x);
    EXPECT_TRUE(std::isfinite(s) && s >= 0.0f && s <= 1.0f) << x;
  }
}

TEST(Kernels, SiluFloatMatchesFloat64) {
  std::mt19937_64 rng(test::fresh_seed("Kernels.SiluFloat"));
  auto x = randn(rng, 4096);
  for (double& v : x) v *= 6;
  const auto dy = randn(rng, 4096);
  std::vector<double> y64(4096), dx64(4096);
  cpu_ops().silu_forward(DType::F64, 4096, x.data(), y64.data());
  cpu_ops().silu_backward(DType::F64, 4096, x.data(), dy.data(), dx64.data());
  std::vector<float> x32(x.begin(), x.end()), dy32(dy.begin(), dy.end()), y32(4096), dx32(4096);
  cpu_ops().silu_forward(DType::F32, 4096, x32.data(), y32.data());
  cpu_ops().silu_backward(DType::F32, 4096, x32.data(), dy32.data(), dx32.data());
  EXPECT_LT(test::rel_error(y32, y64, 4096), 1e-6);
  EXPECT_LT(test::rel_error(dx32, dx64, 4096), 1e-6);
}

TEST(Kernels, MseLossGradientMatchesFiniteDifferences) {
  std::mt19937_64 rng(test::fresh_seed("Kernels.MseLoss"));
  const int rows = 4, cols = 3;
  auto p = randn(rng, rows * cols);
  const auto y = randn(rng, rows * cols);
  std::vector<double> g(rows * cols);
  const std::vector<float> w = {1.0f, 0.5f, 2.0f, 0.25f};  // per-row weights (Min-SNR)
  const double scale = 0.25;
  const double loss = cpu_ops().mse_loss(DType::F64, rows, cols, p.data(), y.data(), w.data(), scale, g.data());
  double direct = 0;
  for (int i = 0; i < rows * cols; ++i) direct += w[i / cols] * (p[i] - y[i]) * (p[i] - y[i]) / cols;
  EXPECT_NEAR(loss, direct, 1e-12);
  for (int i = 0; i < rows * cols; ++i) {
    const double h = 1e-6, keep = p[i];
    p[i] = keep + h;
    const double lp = cpu_ops().mse_loss(DType::F64, rows, cols, p.data(), y.data(), w.data(), 1, nullptr);
    p[i] = keep - h;
    const double lm = cpu_ops().mse_loss(DType::F64, rows, cols, p.data(), y.data(), w.data(), 1, nullptr);
    p[i] = keep;
    EXPECT_NEAR(g[i], scale * (lp - lm) / (2 * h), 1e-8);
  }
}

TEST(Kernels, BiasGradSumsRows) {
  std::mt19937_64 rng(test::fresh_seed("Kernels.BiasGrad"));
  const auto dy = randn(rng, 6 * 4);
  std::vector<double> db(4, 1.0);
  cpu_ops().bias_grad(DType::F64, 6, 4, dy.data(), db.data());
  for (int c = 0; c < 4; ++c) {
    double s = 1.0;
    for (int r = 0; r < 6; ++r) s += dy[r * 4 + c];
    EXPECT_NEAR(db[c], s, 1e-13);
  }
}

TEST(Kernels, TimestepEmbeddingIsCosThenSin) {
  const float t[2] = {0.0f, 417.0f};
  std::vector<double> out(2 * 8);
  cpu_ops().timestep_embedding(DType::F64, 2, 8, t, SinusoidStyle{}, out.data());
  for (int r = 0; r < 2; ++r)
    for (int k = 0; k < 4; ++k) {
      const double f = std::pow(10000.0, -k / 4.0);
      EXPECT_NEAR(out[r * 8 + k], std::cos(t[r] * f), 1e-12);
      EXPECT_NEAR(out[r * 8 + 4 + k], std::sin(t[r] * f), 1e-12);
    }
}

// DDPM's get_timestep_embedding (diffusers' Timesteps, flip_sin_to_cos false, shift 1): [sin, cos]
// with f_k = 10000^(−k / (half − 1)), so the last frequency is 1/10000.
TEST(Kernels, TimestepEmbeddingDdpmStyleIsSinThenCos) {
  const float t[2] = {3.0f, 999.0f};
  std::vector<double> out(2 * 8);
  cpu_ops().timestep_embedding(DType::F64, 2, 8, t, SinusoidStyle{10000, 1, true}, out.data());
  for (int r = 0; r < 2; ++r)
    for (int k = 0; k < 4; ++k) {
      const double f = std::exp(-std::log(10000.0) * k / 3.0);
      EXPECT_NEAR(out[r * 8 + k], std::sin(t[r] * f), 1e-12);
      EXPECT_NEAR(out[r * 8 + 4 + k], std::cos(t[r] * f), 1e-12);
    }
}

// One AdamW step against PyTorch's formula evaluated in float64.
TEST(Kernels, AdamWMatchesReferenceFormula) {
  std::mt19937_64 rng(test::fresh_seed("Kernels.AdamW"));
  const int n = 257;
  const auto p0 = randn(rng, n), g1 = randn(rng, n), g2 = randn(rng, n);
  const double lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
  std::vector<double> p(p0), m(n), v(n);
  for (int step = 1; step <= 2; ++step) {
    const auto& g = step == 1 ? g1 : g2;
    for (int i = 0; i < n; ++i) {
      p[i] *= 1 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const double mhat = m[i] / (1 - std::pow(b1, step)), vhat = v[i] / (1 - std::pow(b2, step));
      p[i] -= lr * mhat / (std::sqrt(vhat) + eps);
    }
  }
  std::vector<float> p32(p0.begin(), p0.end()), m32(n), v32(n);
  for (int step = 1; step <= 2; ++step) {
    std::vector<float> g(n);
    for (int i = 0; i < n; ++i) g[i] = float(step == 1 ? g1[i] : g2[i]);
    cpu_ops().adamw_step(n, p32.data(), g.data(), m32.data(), v32.data(), lr, b1, b2, eps, wd, step);
  }
  EXPECT_LT(test::rel_error(p32, p, n), 1e-6);
}

// Three SGD steps (plain, heavy-ball and Nesterov momentum, L2 weight decay) against
// torch.optim.SGD's rule evaluated in float64.
TEST(Kernels, SgdMatchesReferenceFormula) {
  std::mt19937_64 rng(test::fresh_seed("Kernels.Sgd"));
  const int n = 257;
  const auto p0 = randn(rng, n);
  std::vector<std::vector<double>> grads;
  for (int k = 0; k < 3; ++k) grads.push_back(randn(rng, n));
  const double lr = 0.05, wd = 0.01;
  for (const double mu : {0.0, 0.9})
    for (const bool nesterov : {false, true}) {
      if (nesterov && mu == 0) continue;
      std::vector<double> p(p0), buf(n);
      std::vector<float> p32(p0.begin(), p0.end()), buf32(n);
      for (int step = 0; step < 3; ++step) {
        for (int i = 0; i < n; ++i) {
          double d = grads[step][i] + wd * p[i];
          if (mu > 0) {
            buf[i] = step == 0 ? d : mu * buf[i] + d;  // PyTorch clones the first gradient
            d = nesterov ? d + mu * buf[i] : buf[i];
          }
          p[i] -= lr * d;
        }
        std::vector<float> g(grads[step].begin(), grads[step].end());
        cpu_ops().sgd_step(n, p32.data(), g.data(), mu > 0 ? buf32.data() : nullptr, lr, mu, wd, nesterov);
      }
      EXPECT_LT(test::rel_error(p32, p, n), 1e-6) << "momentum " << mu << " nesterov " << nesterov;
      // The step moves the weights by far more than the tolerance.
      EXPECT_GT(test::rel_error(p32, p0, n), 1e-3);
    }
}

TEST(Kernels, EmaUpdateBlends) {
  std::vector<float> p = {1, 2, 3}, e = {0, 0, 0};
  cpu_ops().ema_update(3, 0.75f, p.data(), e.data());
  for (int i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(e[i], 0.25f * p[i]);
}

}  // namespace
}  // namespace carnot
