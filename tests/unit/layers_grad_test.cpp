// Backward of every layer against central finite differences, all in float64.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "framework/nn/linear.h"
#include "framework/nn/mlp_score_net.h"
#include "framework/nn/time_embedding.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

// Checks analytic gradient g against central differences of f at the entries of x.
void expect_matches_fd(const std::function<double()>& f, double* x, const double* g, std::int64_t n,
                       const std::string& what) {
  const double h = 1e-6;
  double worst = 0;
  std::vector<double> fd(n), an(n);
  for (std::int64_t i = 0; i < n; ++i) {
    const double keep = x[i];
    x[i] = keep + h;
    const double fp = f();
    x[i] = keep - h;
    const double fm = f();
    x[i] = keep;
    fd[i] = (fp - fm) / (2 * h);
    an[i] = g[i];
    worst = std::max(worst, std::fabs(fd[i] - an[i]));
  }
  EXPECT_LT(test::rel_error(an, fd, std::size_t(n)), 1e-7) << what << " (worst |Δ| " << worst << ")";
}

void fill_normal(std::mt19937_64& rng, double* x, std::int64_t n, double scale = 1.0) {
  std::normal_distribution<double> d(0.0, scale);
  for (std::int64_t i = 0; i < n; ++i) x[i] = d(rng);
}

double dot(const Tensor& a, const std::vector<double>& b) {
  double s = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) s += a.data<double>()[i] * b[std::size_t(i)];
  return s;
}

TEST(LayerGradients, Linear) {
  std::mt19937_64 rng(test::fresh_seed("LayerGradients.Linear"));
  const std::int64_t n = 5, in = 7, out = 3;
  ParameterStore store(DType::F64);
  Linear lin(cpu_ops(), store, "fc", in, out);
  store.finalize(rng());
  Buffer x(DType::F64, Shape{n, in}), y(DType::F64, Shape{n, out}), dx(DType::F64, Shape{n, in});
  fill_normal(rng, x.data<double>(), x.numel());
  std::vector<double> r(std::size_t(n * out));  // L = <r, y>
  fill_normal(rng, r.data(), n * out);
  auto loss = [&] {
    lin.forward(x.tensor(), y.tensor());
    return dot(y.tensor(), r);
  };
  loss();
  const Tensor dy(r.data(), DType::F64, Shape{n, out});
  lin.backward(x.tensor(), dy, dx.tensor());
  expect_matches_fd(loss, x.data<double>(), dx.data<double>(), x.numel(), "dL/dx");
  expect_matches_fd(loss, store.values().data<double>(), store.grads().data<double>(),
                    store.values().numel(), "dL/dW, dL/db");
}

TEST(LayerGradients, TimeEmbedding) {
  std::mt19937_64 rng(test::fresh_seed("LayerGradients.TimeEmbedding"));
  const std::int64_t n = 4, freq = 8, dim = 6;
  ParameterStore store(DType::F64);
  TimeEmbedding emb(cpu_ops(), store, "t", freq, dim, n);
  store.finalize(rng());
  const float t[n] = {0.f, 3.f, 250.f, 999.f};
  Buffer out(DType::F64, Shape{n, dim});
  std::vector<double> r(std::size_t(n * dim));
  fill_normal(rng, r.data(), n * dim);
  auto loss = [&] {
    emb.forward(t, n, out.tensor());
    return dot(out.tensor(), r);
  };
  loss();
  emb.backward(Tensor(r.data(), DType::F64, Shape{n, dim}));
  expect_matches_fd(loss, store.values().data<double>(), store.grads().data<double>(),
                    store.values().numel(), "time embedding parameters");
}

// The whole score network: every parameter's gradient, through residual blocks and the time path.
TEST(LayerGradients, MlpScoreNet) {
  std::mt19937_64 rng(test::fresh_seed("LayerGradients.MlpScoreNet"));
  const std::int64_t n = 6;
  const MlpConfig config{2, 8, 2, 4};
  MlpScoreNet net(config, DType::F64, cpu_ops(), n, rng());
  // Random (not default) weights so no path is trivially zero.
  fill_normal(rng, net.params().values().data<double>(), net.params().values().numel(), 0.5);
  Buffer x(DType::F64, Shape{n, 2}), out(DType::F64, Shape{n, 2});
  fill_normal(rng, x.data<double>(), x.numel());
  const float t[n] = {0.f, 1.f, 10.f, 100.f, 500.f, 999.f};
  std::vector<double> r(std::size_t(n * 2));
  fill_normal(rng, r.data(), n * 2);
  auto loss = [&] {
    net.forward(x.tensor(), t, out.tensor());
    return dot(out.tensor(), r);
  };
  loss();
  net.backward(Tensor(r.data(), DType::F64, Shape{n, 2}));
  expect_matches_fd(loss, net.params().values().data<double>(), net.params().grads().data<double>(),
                    net.params().values().numel(), "all MLP parameters");
}

// A network with more outputs than inputs (ε̂ then a full covariance's 3 parameters, for 2-D data),
// and the gradient with respect to the input x; with SiLU or ReLU, with and without LayerNorm.
TEST(LayerGradients, MlpScoreNetWideOutputAndInputGradient) {
  std::mt19937_64 rng(test::fresh_seed("LayerGradients.WideOutputAndInput"));
  for (const auto activation : {MlpConfig::Activation::kSilu, MlpConfig::Activation::kRelu})
    for (const bool layer_norm : {false, true}) {
      const std::int64_t n = 5, D = 2, O = 5;
      MlpConfig config{D, 8, 2, 4, O};
      config.activation = activation;
      config.layer_norm = layer_norm;
      const std::string what = std::string(activation == MlpConfig::Activation::kRelu ? "relu" : "silu") +
                               (layer_norm ? " + layer norm" : "");
      MlpScoreNet net(config, DType::F64, cpu_ops(), n, rng());
      fill_normal(rng, net.params().values().data<double>(), net.params().values().numel(), 0.5);
      Buffer x(DType::F64, Shape{n, D}), out(DType::F64, Shape{n, O}), dx(DType::F64, Shape{n, D});
      fill_normal(rng, x.data<double>(), x.numel());
      const float t[n] = {0.f, 3.f, 40.f, 300.f, 999.f};
      std::vector<double> r(std::size_t(n * O));
      fill_normal(rng, r.data(), n * O);
      auto loss = [&] {
        net.forward(x.tensor(), t, out.tensor());
        return dot(out.tensor(), r);
      };
      loss();
      net.backward(Tensor(r.data(), DType::F64, Shape{n, O}), dx.tensor());
      expect_matches_fd(loss, net.params().values().data<double>(), net.params().grads().data<double>(),
                        net.params().values().numel(), "all parameters, 5 outputs, " + what);
      expect_matches_fd(loss, x.data<double>(), dx.data<double>(), x.numel(), "the input x, " + what);
    }
}

TEST(LayerGradients, BackwardAccumulates) {
  const std::int64_t n = 3;
  MlpScoreNet net(MlpConfig{2, 4, 1, 4}, DType::F64, cpu_ops(), n, 7);
  Buffer x(DType::F64, Shape{n, 2}), out(DType::F64, Shape{n, 2}), dout(DType::F64, Shape{n, 2});
  for (int i = 0; i < 6; ++i) x.data<double>()[i] = 0.1 * i, dout.data<double>()[i] = 1.0 - 0.3 * i;
  const float t[n] = {1.f, 2.f, 3.f};
  net.forward(x.tensor(), t, out.tensor());
  net.backward(dout.tensor());
  const Tensor g = net.params().grads();
  std::vector<double> once(g.data<double>(), g.data<double>() + g.numel());
  net.backward(dout.tensor());
  for (std::int64_t i = 0; i < g.numel(); ++i) EXPECT_DOUBLE_EQ(g.data<double>()[i], 2 * once[i]);
}

// Gradients are laid out in reverse order of registration (the order backward produces them).
TEST(Parameters, FlatLayoutIsReverseRegistrationOrder) {
  MlpScoreNet net(MlpConfig{2, 8, 2, 4}, DType::F32, cpu_ops(), 1, 0);
  const auto& ps = net.params().params();
  ASSERT_GE(ps.size(), 2u);
  EXPECT_EQ(ps.front().name, "t_embedder.mlp.0.weight");
  EXPECT_EQ(ps.back().name, "final_layer.bias");
  EXPECT_EQ(ps.back().offset, 0);
  for (std::size_t i = 1; i < ps.size(); ++i) EXPECT_GT(ps[i - 1].offset, ps[i].offset);
  EXPECT_EQ(net.params().count(), 4 * 8 + 8 + 8 * 8 + 8 + 2 * 8 + 8 + 2 * 2 * (8 * 8 + 8) + 8 * 2 + 2);
}

}  // namespace
}  // namespace carnot

namespace carnot {
namespace {

// `carnot validate` plans without building the model; the plan must match what building allocates.
TEST(Parameters, PlanMatchesTheBuiltModel) {
  MlpConfig normed{2, 64, 3, 16};
  normed.layer_norm = true;
  for (const MlpConfig c : {MlpConfig{2, 128, 4, 32}, MlpConfig{3, 16, 0, 8}, MlpConfig{2, 64, 7, 16}, normed}) {
    const std::int64_t rows = 37;
    MlpScoreNet net(c, DType::F32, cpu_ops(), rows, 1);
    const MlpPlan plan = plan_mlp(c, rows);
    EXPECT_EQ(plan.parameters, net.params().count());
    EXPECT_EQ(plan.activation_elements, net.activation_elements());
    std::int64_t macs = 0;  // forward multiply-adds: every weight once per sample
    for (const ParamInfo& p : net.params().params())
      if (p.shape.rank() == 2) macs += p.shape.numel();
    EXPECT_EQ(plan.forward_flops_per_sample, 2 * macs);
  }
}

}  // namespace
}  // namespace carnot
