// The image models' ops (issue 6) against float64 central differences: for L = ⟨g, f(inputs)⟩
// with fresh random inputs and g, every input's analytic gradient from the op's backward equals
// (L(x + h) − L(x − h)) / 2h element by element, over odd shapes. Then the float path against the
// double one on the same inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

using Vec = std::vector<double>;
constexpr DType F64 = DType::F64;

struct Rng {
  explicit Rng(const char* what) : gen(test::fresh_seed(what)) {}
  Vec normal(std::size_t n, double scale = 1.0) {
    std::normal_distribution<double> d(0.0, scale);
    Vec v(n);
    for (double& x : v) x = d(gen);
    return v;
  }
  std::mt19937_64 gen;
};

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Central differences of loss() with respect to every element of x.
Vec numeric_grad(Vec& x, const std::function<double()>& loss, double h = 1e-6) {
  Vec g(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double keep = x[i];
    x[i] = keep + h;
    const double up = loss();
    x[i] = keep - h;
    const double down = loss();
    x[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

void expect_grad(const Vec& analytic, Vec& x, const std::function<double()>& loss, const std::string& what) {
  const Vec numeric = numeric_grad(x, loss);
  const double e = test::rel_error(analytic, numeric, numeric.size());
  std::printf("%-32s ‖analytic − numeric‖/‖numeric‖ = %.2e\n", what.c_str(), e);
  EXPECT_LT(e, 1e-6) << what;
}

Ops& ops() { return cpu_ops(); }

TEST(ImageOpGradients, Gelu) {
  Rng rng("ImageOpGradients.Gelu");
  Vec x = rng.normal(37, 2.0), g = rng.normal(37), y(37), dx(37);
  auto loss = [&] { ops().gelu_forward(F64, 37, x.data(), y.data()); return dot(g, y); };
  ops().gelu_backward(F64, 37, x.data(), g.data(), dx.data());
  expect_grad(dx, x, loss, "gelu");
}

TEST(ImageOpGradients, LayerNormWithoutAffine) {
  Rng rng("ImageOpGradients.LayerNorm");
  const std::int64_t rows = 3, cols = 7;
  Vec x = rng.normal(rows * cols, 3.0), g = rng.normal(rows * cols), y(x.size()), dx(x.size()), mean(rows), rstd(rows);
  auto loss = [&] {
    ops().layer_norm_forward(F64, rows, cols, 1e-6, x.data(), y.data(), mean.data(), rstd.data());
    return dot(g, y);
  };
  loss();
  ops().layer_norm_backward(F64, rows, cols, x.data(), mean.data(), rstd.data(), g.data(), dx.data());
  expect_grad(dx, x, loss, "layer_norm");
}

TEST(ImageOpGradients, AdaLnModulateAndGatedResidual) {
  Rng rng("ImageOpGradients.AdaLn");
  const std::int64_t B = 2, N = 3, C = 5, stride = 3 * C;  // shift, scale, gate side by side
  Vec x = rng.normal(B * N * C), mod = rng.normal(B * stride), g = rng.normal(B * N * C), y(x.size());
  Vec dx(x.size()), dmod(mod.size(), 0.0);
  auto modulate = [&] {
    ops().modulate_forward(F64, B, N, C, x.data(), mod.data(), mod.data() + C, stride, y.data());
    return dot(g, y);
  };
  ops().modulate_backward(F64, B, N, C, x.data(), mod.data() + C, stride, g.data(), dx.data(), dmod.data(),
                          dmod.data() + C);
  expect_grad(dx, x, modulate, "modulate d/dx");
  Vec dmod_shift_scale(dmod);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t c = 0; c < C; ++c) dmod_shift_scale[std::size_t(b * stride + 2 * C + c)] = 0;  // gate unused
  expect_grad(dmod_shift_scale, mod, modulate, "modulate d/dshift,scale");

  Vec h = rng.normal(B * N * C), base = rng.normal(B * N * C), dh(h.size());
  auto gated = [&] {  // y = base + gate·h, out of place
    std::fill(y.begin(), y.end(), 1e300);
    ops().gated_residual_forward(F64, B, N, C, base.data(), h.data(), mod.data() + 2 * C, stride, y.data());
    return dot(g, y);
  };
  Vec in_place = base;  // the same in place (x = y), bit for bit
  ops().gated_residual_forward(F64, B, N, C, in_place.data(), h.data(), mod.data() + 2 * C, stride, in_place.data());
  gated();
  EXPECT_EQ(in_place, y) << "gated residual in place";
  std::fill(dmod.begin(), dmod.end(), 0.0);
  ops().gated_residual_backward(F64, B, N, C, h.data(), mod.data() + 2 * C, stride, g.data(), dh.data(),
                                dmod.data() + 2 * C);
  expect_grad(dh, h, gated, "gated residual d/dh");
  expect_grad(dmod, mod, gated, "gated residual d/dgate");
  expect_grad(g, base, gated, "gated residual d/dy_in");
}

// The fused adaLN (LayerNorm then modulate, x̂ recomputed in backward): its gradients by central
// differences, its forward equal to the two ops' and its statistics LayerNorm's.
TEST(ImageOpGradients, FusedLayerNormModulate) {
  Rng rng("ImageOpGradients.FusedAdaLn");
  const std::int64_t B = 2, N = 3, C = 7, stride = 3 * C;  // shift, scale and an untouched third chunk
  Vec x = rng.normal(B * N * C, 2.0), mod = rng.normal(B * stride), g = rng.normal(B * N * C), y(x.size());
  Vec mean(B * N), rstd(B * N), dx(x.size()), dmod(mod.size(), 7.0);
  auto fused = [&] {
    ops().layer_norm_modulate_forward(F64, B, N, C, 1e-6, x.data(), mod.data(), mod.data() + C, stride, y.data(),
                                      mean.data(), rstd.data());
    return dot(g, y);
  };
  fused();
  Vec n(x.size()), y2(x.size()), mean2(mean.size()), rstd2(rstd.size());
  ops().layer_norm_forward(F64, B * N, C, 1e-6, x.data(), n.data(), mean2.data(), rstd2.data());
  ops().modulate_forward(F64, B, N, C, n.data(), mod.data(), mod.data() + C, stride, y2.data());
  EXPECT_LT(test::rel_error(y, y2, y.size()), 1e-14);
  EXPECT_EQ(mean, mean2);
  EXPECT_EQ(rstd, rstd2);
  ops().layer_norm_modulate_backward(F64, B, N, C, x.data(), mean.data(), rstd.data(), mod.data() + C, stride,
                                     g.data(), dx.data(), dmod.data(), dmod.data() + C, false);
  expect_grad(dx, x, fused, "fused adaLN d/dx");
  // accumulate_dx adds the same gradient to what dx holds (DiT's residual stream), to its rounding.
  fused();  // the statistics of x itself again (the differences above left those of a neighbour)
  Vec alone(x.size()), before = rng.normal(B * N * C), summed = before, dmod2(mod.size());
  ops().layer_norm_modulate_backward(F64, B, N, C, x.data(), mean.data(), rstd.data(), mod.data() + C, stride,
                                     g.data(), alone.data(), dmod2.data(), dmod2.data() + C, false);
  ops().layer_norm_modulate_backward(F64, B, N, C, x.data(), mean.data(), rstd.data(), mod.data() + C, stride,
                                     g.data(), summed.data(), dmod2.data(), dmod2.data() + C, true);
  for (std::size_t i = 0; i < summed.size(); ++i)
    EXPECT_NEAR(summed[i], before[i] + alone[i], 4e-16 * (std::fabs(before[i]) + std::fabs(alone[i])))
        << "element " << i;
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t c = 0; c < C; ++c) {
      ASSERT_EQ(dmod[std::size_t(b * stride + 2 * C + c)], 7.0) << "the third chunk is not the op's to write";
      dmod[std::size_t(b * stride + 2 * C + c)] = 0;
    }
  expect_grad(dmod, mod, fused, "fused adaLN d/dshift,scale");
}

TEST(ImageOpGradients, GroupNorm) {
  Rng rng("ImageOpGradients.GroupNorm");
  const std::int64_t B = 2, C = 6, HW = 5, G = 3;
  for (bool affine : {true, false}) {
    Vec x = rng.normal(B * C * HW, 2.0), gamma = rng.normal(C), beta = rng.normal(C), g = rng.normal(x.size());
    Vec y(x.size()), dx(x.size()), mean(B * G), rstd(B * G), dgamma(C, 0.0), dbeta(C, 0.0);
    const double* gp = affine ? gamma.data() : nullptr;
    const double* bp = affine ? beta.data() : nullptr;
    auto loss = [&] {
      ops().group_norm_forward(F64, B, C, HW, G, 1e-6, x.data(), gp, bp, y.data(), mean.data(), rstd.data());
      return dot(g, y);
    };
    loss();
    ops().group_norm_backward(F64, B, C, HW, G, x.data(), gp, mean.data(), rstd.data(), g.data(), dx.data(),
                              affine ? dgamma.data() : nullptr, affine ? dbeta.data() : nullptr);
    expect_grad(dx, x, loss, affine ? "group_norm d/dx" : "group_norm (no affine) d/dx");
    if (affine) {
      expect_grad(dgamma, gamma, loss, "group_norm d/dgamma");
      expect_grad(dbeta, beta, loss, "group_norm d/dbeta");
    }
  }
}

TEST(ImageOpGradients, MultiHeadSelfAttention) {
  Rng rng("ImageOpGradients.Attention");
  const std::int64_t B = 2, N = 5, H = 2, D = 3, C = H * D;
  Vec qkv = rng.normal(B * N * 3 * C), g = rng.normal(B * N * C), o(g.size()), lse(B * H * N);
  Vec dqkv(qkv.size()), work(attention_workspace_elements(N));
  auto loss = [&] {
    ops().attention_forward(F64, B, N, H, D, qkv.data(), work.data(), lse.data(), o.data());
    return dot(g, o);
  };
  loss();
  // lse is the log-partition of each row's scaled logits, computed here directly.
  const double scale = 1 / std::sqrt(double(D));
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t i = 0; i < N; ++i) {
        double z = 0;
        for (std::int64_t j = 0; j < N; ++j) {
          double s = 0;
          for (std::int64_t d = 0; d < D; ++d)
            s += qkv[std::size_t((b * N + i) * 3 * C + h * D + d)] * qkv[std::size_t((b * N + j) * 3 * C + C + h * D + d)];
          z += std::exp(scale * s);
        }
        ASSERT_NEAR(lse[std::size_t((b * H + h) * N + i)], std::log(z), 1e-12);
      }
  ops().attention_backward(F64, B, N, H, D, qkv.data(), lse.data(), o.data(), g.data(), work.data(), dqkv.data());
  expect_grad(dqkv, qkv, loss, "attention d/dqkv");
}

TEST(ImageOpGradients, Conv2dGeometries) {
  Rng rng("ImageOpGradients.Conv2d");
  struct Case {
    const char* name;
    Conv2dShape g;
  };
  const Case cases[] = {{"conv 3x3 pad 1", {2, 2, 5, 4, 3, 3, 1, 1}},
                        {"conv 5x5 pad 2", {2, 3, 6, 5, 2, 5, 1, 2}},
                        {"conv 1x1 (shortcut)", {2, 3, 4, 3, 5, 1, 1, 0}},
                        {"conv 3x3 stride 2 (down)", {2, 3, 5, 5, 2, 3, 2, 1}},
                        {"conv 3x3 stride 2, pad (0, 1)", {2, 3, 6, 5, 2, 3, 2, 0, 1}},
                        {"patch embed 2x2 stride 2", {2, 3, 6, 4, 4, 2, 2, 0}}};
  for (const Case& c : cases) {
    const Conv2dShape& s = c.g;
    Vec x = rng.normal(std::size_t(s.batch * s.cin * s.h * s.w)), w = rng.normal(std::size_t(s.cout * s.cin * s.k * s.k));
    Vec bias = rng.normal(std::size_t(s.cout)), g = rng.normal(std::size_t(s.batch * s.cout * s.out_h() * s.out_w()));
    Vec y(g.size()), work(std::size_t(s.workspace_elements())), dx(x.size()), dw(w.size(), 0.0), db(bias.size(), 0.0);
    auto loss = [&] {
      ops().conv2d_forward(F64, s, x.data(), w.data(), bias.data(), work.data(), y.data());
      return dot(g, y);
    };
    ops().conv2d_backward(F64, s, x.data(), w.data(), g.data(), work.data(), dx.data(), dw.data(), db.data());
    expect_grad(dx, x, loss, std::string(c.name) + " d/dx");
    expect_grad(dw, w, loss, std::string(c.name) + " d/dweight");
    expect_grad(db, bias, loss, std::string(c.name) + " d/dbias");
  }
}

TEST(ImageOpGradients, Upsample2x) {
  Rng rng("ImageOpGradients.Upsample");
  const std::int64_t P = 3, H = 2, W = 3;
  Vec x = rng.normal(P * H * W), g = rng.normal(P * 4 * H * W), y(g.size()), dx(x.size());
  auto loss = [&] { ops().upsample2x_forward(F64, P, H, W, x.data(), y.data()); return dot(g, y); };
  ops().upsample2x_backward(F64, P, H, W, g.data(), dx.data());
  expect_grad(dx, x, loss, "upsample 2x");
}

TEST(ImageOpGradients, PerPlaneBroadcastAndConcat) {
  Rng rng("ImageOpGradients.PerPlane");
  const std::int64_t planes = 6, hw = 7;
  Vec v = rng.normal(planes), base = rng.normal(planes * hw), g = rng.normal(planes * hw), y, dv(planes);
  auto loss = [&] { y = base; ops().add_per_plane(F64, planes, hw, v.data(), y.data()); return dot(g, y); };
  ops().sum_per_plane(F64, planes, hw, g.data(), dv.data());
  expect_grad(dv, v, loss, "add_per_plane d/dv");

  // Channel concatenation of [B, 2, hw] and [B, 3, hw] and its split give back both parts; an
  // accumulating copy adds.
  const std::int64_t B = 3, c1 = 2, c2 = 3;
  const Vec a = rng.normal(B * c1 * hw), b = rng.normal(B * c2 * hw);
  Vec cat(B * (c1 + c2) * hw), a2(a.size()), b2(b.size(), 1.0);
  ops().copy_blocks(F64, B, c1 * hw, a.data(), c1 * hw, cat.data(), (c1 + c2) * hw, false);
  ops().copy_blocks(F64, B, c2 * hw, b.data(), c2 * hw, cat.data() + c1 * hw, (c1 + c2) * hw, false);
  for (std::int64_t i = 0; i < B; ++i)
    for (std::int64_t j = 0; j < c2 * hw; ++j)
      ASSERT_EQ(cat[std::size_t(i * (c1 + c2) * hw + c1 * hw + j)], b[std::size_t(i * c2 * hw + j)]);
  ops().copy_blocks(F64, B, c1 * hw, cat.data(), (c1 + c2) * hw, a2.data(), c1 * hw, false);
  ops().copy_blocks(F64, B, c2 * hw, cat.data() + c1 * hw, (c1 + c2) * hw, b2.data(), c2 * hw, true);
  EXPECT_EQ(a2, a);
  for (std::size_t i = 0; i < b.size(); ++i) ASSERT_EQ(b2[i], b[i] + 1.0);
}

// Dropout: the kept fraction is 1 − p within five standard errors of n Bernoulli draws, kept
// values are scaled by 1/(1 − p), backward multiplies by the same mask, and a row's mask depends
// on its global sample index only (two half-batches with their first indices give the whole's).
TEST(ImageOps, DropoutMaskIsKeyedBySampleIndex) {
  Rng rng("ImageOps.Dropout");
  const std::int64_t rows = 8, cols = 1001;
  const double p = 0.3;
  const DropoutKey key{rng.gen(), 17, 40, 5};
  const Vec x = rng.normal(rows * cols), g = rng.normal(rows * cols);
  Vec y(x.size()), mask(x.size()), dx(x.size());
  ops().dropout_forward(F64, rows, cols, p, key, x.data(), y.data(), mask.data());
  double dropped = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (mask[i] == 0) dropped += 1;
    else ASSERT_DOUBLE_EQ(mask[i], 1 / (1 - p));
    ASSERT_EQ(y[i], x[i] * mask[i]);
  }
  const double n = double(x.size()), se = std::sqrt(p * (1 - p) / n);
  std::printf("dropout: dropped %.4f of %.0f (p = %.2f, standard error %.4f)\n", dropped / n, n, p, se);
  EXPECT_LT(std::fabs(dropped / n - p), 5 * se);
  ops().dropout_backward(F64, rows * cols, mask.data(), g.data(), dx.data());
  for (std::size_t i = 0; i < x.size(); ++i) ASSERT_EQ(dx[i], g[i] * mask[i]);

  const std::int64_t half = rows / 2;
  Vec y2(x.size()), mask2(x.size());
  ops().dropout_forward(F64, half, cols, p, key, x.data(), y2.data(), mask2.data());
  DropoutKey later = key;
  later.first_index += std::uint32_t(half);
  ops().dropout_forward(F64, rows - half, cols, p, later, x.data() + half * cols, y2.data() + half * cols,
                        mask2.data() + half * cols);
  EXPECT_EQ(mask2, mask);
  DropoutKey other_layer = key;
  other_layer.block += 1000;
  ops().dropout_forward(F64, rows, cols, p, other_layer, x.data(), y2.data(), mask2.data());
  EXPECT_NE(mask2, mask);
}

// The float kernels on the double oracle's inputs: forward outputs to float rounding.
TEST(ImageOps, FloatMatchesDoubleOracle) {
  Rng rng("ImageOps.FloatMatchesDouble");
  const std::int64_t B = 2, N = 16, H = 4, D = 8, C = H * D;
  const Vec qkv = rng.normal(B * N * 3 * C);
  Vec o(B * N * C), lse(B * H * N), aw(attention_workspace_elements(N));
  ops().attention_forward(F64, B, N, H, D, qkv.data(), aw.data(), lse.data(), o.data());
  std::vector<float> qkv_f(qkv.begin(), qkv.end()), o_f(o.size()), lse_f(lse.size()), aw_f(aw.size());
  ops().attention_forward(DType::F32, B, N, H, D, qkv_f.data(), aw_f.data(), lse_f.data(), o_f.data());
  EXPECT_LT(test::rel_error(o_f, o, o.size()), 1e-6);

  const Conv2dShape s{2, 4, 9, 7, 5, 3, 1, 1};
  const Vec x = rng.normal(std::size_t(s.batch * s.cin * s.h * s.w)), w = rng.normal(std::size_t(s.cout * s.cin * 9));
  Vec y(std::size_t(s.batch * s.cout * s.out_h() * s.out_w())), work(std::size_t(s.workspace_elements()));
  ops().conv2d_forward(F64, s, x.data(), w.data(), nullptr, work.data(), y.data());
  std::vector<float> x_f(x.begin(), x.end()), w_f(w.begin(), w.end()), y_f(y.size()), work_f(work.size());
  ops().conv2d_forward(DType::F32, s, x_f.data(), w_f.data(), nullptr, work_f.data(), y_f.data());
  EXPECT_LT(test::rel_error(y_f, y, y.size()), 1e-6);

  const Vec xg = rng.normal(2 * 8 * 10, 3.0);
  Vec yg(xg.size()), m(2 * 4), r(2 * 4);
  ops().group_norm_forward(F64, 2, 8, 10, 4, 1e-5, xg.data(), nullptr, nullptr, yg.data(), m.data(), r.data());
  std::vector<float> xg_f(xg.begin(), xg.end()), yg_f(yg.size()), m_f(m.size()), r_f(r.size());
  ops().group_norm_forward(DType::F32, 2, 8, 10, 4, 1e-5, xg_f.data(), nullptr, nullptr, yg_f.data(), m_f.data(),
                           r_f.data());
  EXPECT_LT(test::rel_error(yg_f, yg, yg.size()), 1e-6);
  const Vec dyg = rng.normal(xg.size()), gam = rng.normal(8), bet = rng.normal(8);
  Vec dxg(xg.size()), dgam(8, 0.0), dbet(8, 0.0);
  ops().group_norm_forward(F64, 2, 8, 10, 4, 1e-5, xg.data(), gam.data(), bet.data(), yg.data(), m.data(), r.data());
  ops().group_norm_backward(F64, 2, 8, 10, 4, xg.data(), gam.data(), m.data(), r.data(), dyg.data(), dxg.data(),
                            dgam.data(), dbet.data());
  std::vector<float> gam_f(gam.begin(), gam.end()), bet_f(bet.begin(), bet.end()), dyg_f(dyg.begin(), dyg.end());
  std::vector<float> dxg_f(dxg.size()), dgam_f(8, 0.0f), dbet_f(8, 0.0f);
  ops().group_norm_forward(DType::F32, 2, 8, 10, 4, 1e-5, xg_f.data(), gam_f.data(), bet_f.data(), yg_f.data(),
                           m_f.data(), r_f.data());
  EXPECT_LT(test::rel_error(yg_f, yg, yg.size()), 1e-6);
  ops().group_norm_backward(DType::F32, 2, 8, 10, 4, xg_f.data(), gam_f.data(), m_f.data(), r_f.data(), dyg_f.data(),
                            dxg_f.data(), dgam_f.data(), dbet_f.data());
  EXPECT_LT(test::rel_error(dxg_f, dxg, dxg.size()), 1e-5);
  EXPECT_LT(test::rel_error(dgam_f, dgam, dgam.size()), 1e-6);

  // GELU's float path uses a fast tanh (exp_fast); forward and backward stay within float rounding.
  const Vec xe = rng.normal(4097, 3.0), ge = rng.normal(4097);
  Vec ye(xe.size()), de(xe.size());
  ops().gelu_forward(F64, 4097, xe.data(), ye.data());
  ops().gelu_backward(F64, 4097, xe.data(), ge.data(), de.data());
  std::vector<float> xe_f(xe.begin(), xe.end()), ge_f(ge.begin(), ge.end()), ye_f(ye.size()), de_f(de.size());
  ops().gelu_forward(DType::F32, 4097, xe_f.data(), ye_f.data());
  ops().gelu_backward(DType::F32, 4097, xe_f.data(), ge_f.data(), de_f.data());
  EXPECT_LT(test::rel_error(ye_f, ye, ye.size()), 1e-6);
  EXPECT_LT(test::rel_error(de_f, de, de.size()), 1e-6);
}

}  // namespace
}  // namespace carnot
