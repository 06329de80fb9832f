// The symmetries networks declare (nn/symmetries.h) are exact: scaling a pair's u by c and w by 1/c,
// or a scale-invariant group by c, leaves the output unchanged (float64), while scaling u alone
// changes it, so each group is the right set of weights and the check can fail.
#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "framework/nn/dit.h"
#include "framework/nn/mlp_score_net.h"
#include "framework/nn/unet.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

void scale(const ParamGroup& g, double* w, double c) {
  for (const FlatRange& r : g.ranges)
    for (std::int64_t i = r.begin; i < r.end; ++i) w[i] *= c;
}

// forward() writes the network's output for fixed inputs into a vector.
void expect_symmetries_exact(ScoreNetwork& net, const std::function<std::vector<double>()>& forward,
                             std::size_t want_pairs, std::size_t want_invariant, const char* what) {
  const Symmetries sym = net.symmetries();
  EXPECT_EQ(sym.pairs.size(), want_pairs) << what;
  EXPECT_EQ(sym.scale_invariant.size(), want_invariant) << what;
  double* w = net.params().values().data<double>();
  const std::vector<double> keep(w, w + net.params().values().numel());
  const std::vector<double> base = forward();
  const double c = 1.7;
  double worst_kept = 0, least_moved = 1e300;
  auto measure = [&](double* worst, double* least) {
    const std::vector<double> out = forward();
    const double e = test::rel_error(out, base, base.size());
    if (worst) *worst = std::max(*worst, e);
    if (least) *least = std::min(*least, e);
    std::copy(keep.begin(), keep.end(), w);
  };
  for (const RescalingPair& p : sym.pairs) {
    ASSERT_GT(p.u.numel(), 0) << p.name;
    ASSERT_GT(p.w.numel(), 0) << p.name;
    scale(p.u, w, c);
    scale(p.w, w, 1 / c);
    measure(&worst_kept, nullptr);
    scale(p.u, w, c);
    measure(nullptr, &least_moved);
  }
  for (const ScaleInvariantGroup& g : sym.scale_invariant) {
    scale(g.group, w, c);
    measure(&worst_kept, nullptr);
    scale(g.group, w, -1);  // a sign is not a positive scale: the output must move
    measure(nullptr, &least_moved);
  }
  std::printf("%s: %zu pairs, %zu invariant groups; symmetric moves change the output by ≤ %.2e, "
              "asymmetric ones by ≥ %.2e\n", what, sym.pairs.size(), sym.scale_invariant.size(), worst_kept, least_moved);
  EXPECT_LT(worst_kept, 1e-12) << what;
  EXPECT_GT(least_moved, 1e-6) << what;
}

TEST(Symmetries, MlpReluPairsAndLayerNormInvariance) {
  std::mt19937_64 rng(test::fresh_seed("Symmetries.Mlp"));
  std::normal_distribution<double> normal;
  for (const bool layer_norm : {false, true})
    for (const auto act : {MlpConfig::Activation::kRelu, MlpConfig::Activation::kSilu}) {
      MlpConfig c{3, 16, 3, 8};
      c.activation = act, c.layer_norm = layer_norm;
      c.norm_eps = 0;  // LayerNorm's ε breaks the scale invariance by O(ε/variance)
      const std::int64_t n = 7;
      MlpScoreNet net(c, DType::F64, cpu_ops(), n, rng());
      const Tensor w = net.params().values();
      for (std::int64_t i = 0; i < w.numel(); ++i) w.data<double>()[i] = 0.5 * normal(rng);
      std::vector<double> x(std::size_t(n * 3)), out(x.size());
      for (double& v : x) v = normal(rng);
      const float t[n] = {0, 10, 50, 200, 500, 800, 999};
      const bool relu = act == MlpConfig::Activation::kRelu;
      const std::string what = std::string("MLP ") + (relu ? "relu" : "silu") + (layer_norm ? " + layer norm" : "");
      expect_symmetries_exact(net, [&] {
        net.forward(Tensor(x.data(), DType::F64, Shape{n, 3}), t, Tensor(out.data(), DType::F64, Shape{n, 3}));
        return out;
      }, relu && !layer_norm ? 3 : 0, layer_norm ? 3 : 0, what.c_str());
    }
}

TEST(Symmetries, DitAttentionHeads) {
  std::mt19937_64 rng(test::fresh_seed("Symmetries.Dit"));
  std::normal_distribution<double> normal;
  DitConfig c;
  c.input_size = 4, c.patch = 2, c.in_channels = 2, c.hidden = 12, c.depth = 2, c.heads = 3;
  c.num_classes = 3, c.frequency_dim = 6;
  const std::int64_t B = 2;
  Dit net(c, DType::F64, cpu_ops(), B, 1);
  const Tensor w = net.params().values();
  for (std::int64_t i = 0; i < w.numel(); ++i) w.data<double>()[i] = 0.4 * normal(rng);
  std::vector<double> x(std::size_t(B * 2 * 16)), out(std::size_t(net.outputs() * B));
  for (double& v : x) v = normal(rng);
  const float t[B] = {3, 700};
  const std::int64_t y[B] = {1, 3};
  const Symmetries sym = net.symmetries();
  ASSERT_EQ(sym.pairs.size(), 2u * 3 * 2);
  EXPECT_EQ(sym.pairs[0].name, "blocks.0.attn.qk.head0");
  EXPECT_EQ(sym.pairs[0].u.numel(), 4 * 12 + 4);  // 4 rows of W_Q and 4 biases
  EXPECT_EQ(sym.pairs[1].w.numel(), 12 * 4);      // 4 columns of W_O
  expect_symmetries_exact(net, [&] {
    net.forward(Tensor(x.data(), DType::F64, Shape{B, 2, 4, 4}), t, y, Tensor(out.data(), DType::F64, Shape{B, 4, 4, 4}));
    return out;
  }, 12, 0, "DiT, 2 blocks × 3 heads");
}

TEST(Symmetries, UNetAttentionHeads) {
  std::mt19937_64 rng(test::fresh_seed("Symmetries.UNet"));
  std::normal_distribution<double> normal;
  UNetConfig c;
  c.sample_size = 8, c.in_channels = 2, c.channels = 8, c.channel_mult = {1, 1}, c.res_blocks = 1;
  c.attention_resolutions = {4}, c.groups = 2, c.dropout = 0, c.head_dim = 4;
  c.norm_eps = 0;  // GroupNorm's ε breaks the residual blocks' scale invariance by O(ε/variance)
  const std::int64_t B = 2;
  UNet net(c, DType::F64, cpu_ops(), B, 1);
  const Tensor w = net.params().values();
  for (std::int64_t i = 0; i < w.numel(); ++i) w.data<double>()[i] = 0.3 * normal(rng);
  std::vector<double> x(std::size_t(B * 2 * 64)), out(std::size_t(net.outputs() * B));
  for (double& v : x) v = normal(rng);
  const float t[B] = {3, 700};
  const Symmetries sym = net.symmetries();
  const std::size_t attention_blocks = sym.pairs.size() / 4;  // 2 heads × (qk, vo) each
  EXPECT_GE(attention_blocks, 2u);  // down, mid and up blocks at 4×4
  std::size_t res_blocks = 0;  // every residual block: conv1 and time_emb_proj before GroupNorm
  for (const ParamInfo& p : net.params().params()) res_blocks += p.name.find(".conv1.weight") != std::string::npos;
  EXPECT_GE(res_blocks, 5u);
  EXPECT_EQ(sym.scale_invariant.size(), res_blocks);
  expect_symmetries_exact(net, [&] {
    net.forward(Tensor(x.data(), DType::F64, Shape{B, 2, 8, 8}), t, nullptr, Tensor(out.data(), DType::F64, Shape{B, 2, 8, 8}));
    return out;
  }, attention_blocks * 4, res_blocks, "U-Net: attention heads (head_dim 4 of 8 channels), residual blocks");
}

}  // namespace
}  // namespace carnot
