// Learned β: the gradient of the bound with respect to the schedule's logits, through the
// closed-form terms, x_t and the network, and the prior, against central differences of the
// whole computation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "framework/diffusion/learned_betas.h"
#include "framework/nn/mlp_score_net.h"
#include "kernels/ops.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

TEST(LearnedBetas, ZeroLogitsAreTheBaseSchedule) {
  const NoiseSchedule base = NoiseSchedule::sohl2015(40, 1e-3);
  const std::vector<float> zero(39, 0.0f);
  const NoiseSchedule s = learned_schedule(base, zero.data());
  for (int t = 0; t < 40; ++t) {
    EXPECT_NEAR(s.betas[t], base.betas[t], 1e-15);
    EXPECT_NEAR(s.alphas_cumprod[t], base.alphas_cumprod[t], 1e-14);
  }
}

// n rows at random times (t = 0 included) through a float32 MLP with random weights; the loss is
// Σ_j (T L_t + L_prior) / dim. Float32 forward passes limit the central differences to about
// 1e-4 relative, so the comparison is ‖g − fd‖/‖fd‖ < 1e-2, for each variance form.
TEST(LearnedBetas, GradientMatchesCentralDifferences) {
  const std::uint64_t seed = test::fresh_seed("LearnedBetas.Gradient");
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  const int T = 12;
  const std::int64_t n = 64, dim = 2;
  const NoiseSchedule base = NoiseSchedule::sohl2015(T, 1e-3);
  for (const ReverseVariance v : {ReverseVariance::kPosterior, ReverseVariance::kLearned, ReverseVariance::kLearnedFull}) {
    const std::int64_t width = dim + variance_outputs(v, dim);
    MlpScoreNet net(MlpConfig{dim, 16, 1, 8, width}, DType::F32, cpu_ops(), n, rng());
    const Tensor w = net.params().values();
    for (std::int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] *= 1.5f;  // livelier than the init
    std::vector<float> logits(T - 1), x0(n * dim), eps(n * dim), t(n), xt(n * dim), out(n * width),
        dout(n * width), dx(n * dim);
    for (float& p : logits) p = float(0.5 * normal(rng));
    for (std::int64_t k = 0; k < n * dim; ++k) x0[k] = float(normal(rng)), eps[k] = float(normal(rng));
    for (std::int64_t j = 0; j < n; ++j) t[j] = float(j % T);
    const BoundLossConfig config{LossKind::kVlb, v};
    auto loss = [&](bool grads, std::vector<float>* g) {
      const NoiseSchedule s = learned_schedule(base, logits.data());
      for (std::int64_t j = 0; j < n; ++j) {
        const double A = s.alphas_cumprod[std::size_t(t[j])];
        for (std::int64_t d = 0; d < dim; ++d)
          xt[j * dim + d] = float(std::sqrt(A) * x0[j * dim + d] + std::sqrt(1 - A) * eps[j * dim + d]);
      }
      net.forward(Tensor(xt.data(), DType::F32, Shape{n, dim}), t.data(), Tensor(out.data(), DType::F32, Shape{n, width}));
      double total = bound_loss(config, s, n, dim, t.data(), eps.data(), out.data(), 1.0, dout.data());
      for (std::int64_t j = 0; j < n; ++j) total += prior_nats(s, dim, x0.data() + j * dim) / double(dim);
      if (grads) {
        net.backward(Tensor(dout.data(), DType::F32, Shape{n, width}), Tensor(dx.data(), DType::F32, Shape{n, dim}));
        add_beta_logit_gradient(s, v, n, dim, t.data(), x0.data(), eps.data(), out.data(), dx.data(), 1.0, g->data());
      }
      return total;
    };
    std::vector<float> g(T - 1, 0.0f);
    loss(true, &g);
    std::vector<double> fd(T - 1);
    const double h = 1e-2;
    for (int i = 0; i < T - 1; ++i) {
      const float keep = logits[i];
      logits[i] = float(keep + h);
      const double up = loss(false, nullptr);
      logits[i] = float(keep - h);
      const double down = loss(false, nullptr);
      logits[i] = keep;
      fd[i] = (up - down) / (double(float(keep + h)) - double(float(keep - h)));
    }
    const double err = test::rel_error(g, fd, g.size());
    std::printf("variance %d: ‖g − fd‖/‖fd‖ = %.2e (‖fd‖ = %.3g)\n", int(v), err,
                std::sqrt([&] { double s2 = 0; for (double x : fd) s2 += x * x; return s2; }()));
    EXPECT_LT(err, 1e-2) << "variance " << int(v);
  }
}

}  // namespace
}  // namespace carnot
