// The bound-based training losses (diffusion/vlb_loss.h) and learned reverse variances: gradients
// against central differences, hybrid's stopped gradient, and the loss's expectation at an exact
// model against the closed-form negative log-likelihood.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "framework/core/random.h"
#include "framework/diffusion/ddpm_sampler.h"
#include "framework/diffusion/vlb_loss.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

// n rows of random ε, network outputs (ε̂ then P variance parameters) and times, t = 0 (the
// decoder) included.
struct Batch {
  std::int64_t n, dim, width;
  std::vector<float> t, eps, out;
};

Batch random_batch(std::uint64_t seed, const NoiseSchedule& s, std::int64_t n, std::int64_t dim, std::int64_t P) {
  const std::int64_t width = dim + P;
  Batch b{n, dim, width, std::vector<float>(n), std::vector<float>(n * dim), std::vector<float>(n * width)};
  std::vector<double> z(static_cast<std::size_t>(dim + width));
  for (std::int64_t j = 0; j < n; ++j) {
    b.t[j] = j == 0 ? 0.0f : float(uniform_below(philox_draw(seed, 1, std::uint32_t(j), RngStream::kData, 0).v[0],
                                                 std::uint32_t(s.steps())));
    philox_normals(seed, 2, std::uint32_t(j), RngStream::kData, dim + width, z.data());
    for (std::int64_t d = 0; d < dim; ++d) {
      b.eps[j * dim + d] = float(z[d]);
      b.out[j * width + d] = float(z[d] + 0.3 * z[dim + d]);  // ε̂ near ε, as a trained model's
    }
    for (std::int64_t q = 0; q < P; ++q) b.out[j * width + dim + q] = float(0.5 * z[2 * dim + q]);  // around 0
  }
  return b;
}

// ∂loss/∂out from bound_loss against central differences of its value, for each loss kind and
// for fixed and learned variances (learned: out has the logit columns).
TEST(BoundLoss, GradientMatchesCentralDifferences) {
  const std::uint64_t seed = test::fresh_seed("BoundLoss.Gradient");
  const NoiseSchedule s = NoiseSchedule::sohl2015(40, 1e-3);
  const std::int64_t n = 16, dim = 3;
  for (const LossKind kind : {LossKind::kSimple, LossKind::kVlb, LossKind::kHybrid})
    for (const ReverseVariance v : {ReverseVariance::kPosterior, ReverseVariance::kBeta, ReverseVariance::kLearned,
                                    ReverseVariance::kLearnedFull}) {
      const std::int64_t P = variance_outputs(v, dim), width = dim + P;
      if (kind == LossKind::kHybrid && P == 0) continue;
      const BoundLossConfig config{kind, v, 0.25};
      Batch b = random_batch(seed, s, n, dim, P);
      std::vector<float>& out = b.out;
      std::vector<float> grad(n * width), scratch(n * width);
      bound_loss(config, s, n, dim, b.t.data(), b.eps.data(), out.data(), 1.0, grad.data());
      // The step is a power of two, so out ± h is exact in float for |out| < 2.
      const double h = 1.0 / 1024;
      std::vector<double> fd(grad.size());
      for (std::size_t k = 0; k < out.size(); ++k) {
        const float keep = out[k];
        out[k] = float(keep + h);
        const double up = bound_loss(config, s, n, dim, b.t.data(), b.eps.data(), out.data(), 1.0, scratch.data());
        out[k] = float(keep - h);
        const double down = bound_loss(config, s, n, dim, b.t.data(), b.eps.data(), out.data(), 1.0, scratch.data());
        out[k] = keep;
        fd[k] = (up - down) / (2 * h);
      }
      // hybrid's ε columns carry only L_simple's gradient (the bound's is stopped there), so
      // compare them with the simple loss's; its variance columns are λ times vlb's.
      if (kind == LossKind::kHybrid) {
        std::vector<float> simple(n * width), vlb(n * width);
        bound_loss(BoundLossConfig{LossKind::kSimple, v, 0.25}, s, n, dim, b.t.data(), b.eps.data(), out.data(), 1.0,
                   simple.data());
        bound_loss(BoundLossConfig{LossKind::kVlb, v, 0.25}, s, n, dim, b.t.data(), b.eps.data(), out.data(), 1.0,
                   vlb.data());
        for (std::int64_t j = 0; j < n; ++j) {
          for (std::int64_t d = 0; d < dim; ++d) {
            EXPECT_EQ(grad[j * width + d], simple[j * width + d]);
            fd[j * width + d] = simple[j * width + d];  // the stopped part is not a derivative
          }
          for (std::int64_t q = dim; q < width; ++q)
            EXPECT_NEAR(grad[j * width + q], 0.25 * vlb[j * width + q], 1e-6 * std::fabs(vlb[j * width + q]) + 1e-30);
        }
      }
      const double err = test::rel_error(grad, fd, grad.size());
      std::printf("kind %d variance %d: ‖grad − fd‖/‖fd‖ = %.2e\n", int(kind), int(v), err);
      EXPECT_LT(err, 1e-4) << "kind " << int(kind) << " variance " << int(v);
    }
}

// An exact answer: for data N(0, 1) the exact ε̂(x_t) = sqrt(1 − ᾱ_t) x_t and σ_t² = β_t make the
// bound tight (likelihood.h), so E[vlb loss] · dim + prior = the NLL, ½ ln(2πe) per dimension.
// The learned variance with logit 0 is β_t, so this also checks the learned path. Statistical:
// the mean over n draws of (x_0, t, ε) within 5 standard errors.
TEST(BoundLoss, ExpectationAtExactModelIsTheNll) {
  const std::uint64_t seed = test::fresh_seed("BoundLoss.Expectation");
  const std::int64_t n = 200000, dim = 1;
  for (const NoiseSchedule& s : {NoiseSchedule::sohl2015(40, 1e-3), NoiseSchedule::log_snr(100, 8, -6)}) {
    const int T = s.steps();
    std::vector<float> t(n), eps(n), out(2 * n);
    std::vector<double> x0(n);
    for (std::int64_t j = 0; j < n; ++j) {
      const std::uint32_t ti = uniform_below(philox_draw(seed, 0, std::uint32_t(j), RngStream::kDiffusionTime, 0).v[0],
                                             std::uint32_t(T));
      double z[2];
      philox_normals(seed, 0, std::uint32_t(j), RngStream::kNoise, 2, z);
      const double ab = s.alphas_cumprod[ti], xt = std::sqrt(ab) * z[0] + std::sqrt(1 - ab) * z[1];
      t[j] = float(ti), eps[j] = float(z[1]), x0[j] = z[0];
      out[2 * j] = float(std::sqrt(1 - ab) * xt);
      out[2 * j + 1] = 0.0f;
    }
    std::vector<float> row(2);
    const double abT = s.alphas_cumprod.back();
    // In one dimension learned_full's single parameter is ln of the scale: 0 is β too.
    for (const ReverseVariance v : {ReverseVariance::kLearned, ReverseVariance::kLearnedFull}) {
      double sum = 0, sum2 = 0;
      for (std::int64_t j = 0; j < n; ++j) {
        const double loss = bound_loss(BoundLossConfig{LossKind::kVlb, v}, s, 1, dim, &t[j], &eps[j], &out[2 * j], 1.0,
                                       row.data());
        const double prior = 0.5 * (abT * x0[j] * x0[j] + (1 - abT) - 1 - std::log(1 - abT));
        sum += loss + prior, sum2 += (loss + prior) * (loss + prior);
      }
      const double mean = sum / n, se = std::sqrt((sum2 / n - mean * mean) / n);
      const double nll = 0.5 * std::log(2 * M_PI * M_E);
      std::printf("T = %d, variance %d: E[loss] + prior = %.5f ± %.5f nats, NLL %.5f\n", T, int(v), mean, se, nll);
      EXPECT_NEAR(mean, nll, 5 * se);
    }
  }
}

// DDPM with a learned variance whose logits are all 0 is DDPM with σ² = β: the same samples.
TEST(LearnedVariance, ZeroLogitsSampleAsFixedLarge) {
  const NoiseSchedule s = NoiseSchedule::cosine(50);
  auto eps = [](const Tensor& x, const float*, const Tensor& e) {
    for (std::int64_t k = 0; k < x.numel(); ++k) e.data<float>()[k] = 0.5f * x.data<float>()[k];
  };
  const ReverseModel learned(EpsVarPredictor([&](const Tensor& x, const float* t, const Tensor& e, const Tensor& logit) {
                               eps(x, t, e);
                               for (std::int64_t k = 0; k < logit.numel(); ++k) logit.data<float>()[k] = 0.0f;
                             }),
                             ReverseVariance::kLearned);
  std::vector<float> a(2 * 300), b(2 * 300), c(2 * 300);
  ddpm_sample(learned, s, 3, 0, 300, 2, 64, a.data());
  ddpm_sample(ReverseModel(eps, ReverseVariance::kBeta), s, 3, 0, 300, 2, 64, b.data());
  ddpm_sample(ReverseModel(eps, ReverseVariance::kPosterior), s, 3, 0, 300, 2, 64, c.data());
  EXPECT_LT(test::rel_error(a, b, a.size()), 1e-6);
  EXPECT_GT(test::rel_error(a, c, a.size()), 1e-3);  // and the variance does change the samples
}

// σ² = sigmoid(v + logit β) stays finite and in (0, 1) for extreme logits.
TEST(LearnedVariance, StaysInUnitInterval) {
  const NoiseSchedule s = NoiseSchedule::sohl2015(40, 1e-3);
  for (double v : {-800.0, -30.0, 0.0, 30.0, 800.0}) {
    const double var = reverse_variance(s, 5, ReverseVariance::kLearned, v);
    EXPECT_TRUE(var > 0 && var < 1 && std::isfinite(std::log(var))) << v;
  }
  EXPECT_NEAR(reverse_variance(s, 5, ReverseVariance::kLearned, 0.0), s.betas[5], 1e-15);
}

// learned_full against an independent computation: Σ = β M Mᵀ formed explicitly for dim = 2 and
// inverted in closed form; the KL (t > 0), the decoder's NLL (t = 0), and the sampler's noise
// factor (columns of Σ^{1/2} from unit z, whose outer products sum to Σ).
TEST(LearnedFullCovariance, MatchesExplicitTwoByTwo) {
  const NoiseSchedule s = NoiseSchedule::sohl2015(40, 1e-3);
  const float params[3] = {0.4f, -1.1f, 0.7f};  // a_0, a_1, b_10
  const double delta[2] = {0.3, -0.2};
  for (int t : {0, 1, 17, 39}) {
    const double beta = s.betas[t], pv = posterior_variance(s, t);
    const double m00 = std::exp(double(params[0])), m11 = std::exp(double(params[1])), m10 = params[2];
    const double S00 = beta * m00 * m00, S01 = beta * m10 * m00, S11 = beta * (m10 * m10 + m11 * m11);
    const double det = S00 * S11 - S01 * S01, P00 = S11 / det, P11 = S00 / det, P01 = -S01 / det;
    const double quad = P00 * delta[0] * delta[0] + 2 * P01 * delta[0] * delta[1] + P11 * delta[1] * delta[1];
    const double expect = t == 0 ? 0.5 * (quad + std::log(det) + 2 * std::log(2 * M_PI))
                                 : 0.5 * (pv * (P00 + P11) + quad - 2 + std::log(det) - 2 * std::log(pv));
    const double got = row_bound_nats(s, t, ReverseVariance::kLearnedFull, 2, delta, params);
    EXPECT_NEAR(got, expect, 1e-12 * std::fabs(expect) + 1e-12) << t;
    double c0[2], c1[2];
    const double e0[2] = {1, 0}, e1[2] = {0, 1};
    reverse_noise(s, t, ReverseVariance::kLearnedFull, 2, params, e0, c0);
    reverse_noise(s, t, ReverseVariance::kLearnedFull, 2, params, e1, c1);
    EXPECT_NEAR(c0[0] * c0[0] + c1[0] * c1[0], S00, 1e-14);
    EXPECT_NEAR(c0[0] * c0[1] + c1[0] * c1[1], S01, 1e-14);
    EXPECT_NEAR(c0[1] * c0[1] + c1[1] * c1[1], S11, 1e-14);
  }
}

}  // namespace
}  // namespace carnot
