// The DDPM U-Net: its parameter count against the reference's, its state dict against diffusers'
// names and shapes, the whole network's backward (dropout on) against float64 central
// differences, and the grads-ready marks against when gradients are really final.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "framework/nn/unet.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

// DDPM's CIFAR-10 model (google/ddpm-cifar10-32 in diffusers): 35,746,307 parameters.
TEST(UNet, DdpmCifar10CountMatchesTheReference) {
  const UNetConfig c = UNetConfig::ddpm_cifar10();
  EXPECT_EQ(unet_parameter_count(c), 35746307);
  UNet model(c, DType::F32, cpu_ops(), 1, 1);
  EXPECT_EQ(model.params().count(), 35746307);
  std::map<std::string, Shape> shapes;
  for (const ParamInfo& p : model.params().params()) shapes[p.name] = p.shape;
  EXPECT_EQ(shapes.size(), 328u);  // the reference's state dict holds 328 tensors
  const std::pair<const char*, Shape> want[] = {
      {"conv_in.weight", Shape{128, 3, 3, 3}},
      {"time_embedding.linear_1.weight", Shape{512, 128}},
      {"time_embedding.linear_2.bias", Shape{512}},
      {"down_blocks.0.resnets.0.norm1.weight", Shape{128}},
      {"down_blocks.0.resnets.0.time_emb_proj.weight", Shape{128, 512}},
      {"down_blocks.0.downsamplers.0.conv.weight", Shape{128, 128, 3, 3}},
      {"down_blocks.1.resnets.0.conv_shortcut.weight", Shape{256, 128, 1, 1}},
      {"down_blocks.1.attentions.1.to_q.weight", Shape{256, 256}},
      {"down_blocks.1.attentions.1.to_out.0.bias", Shape{256}},
      {"down_blocks.1.attentions.0.group_norm.weight", Shape{256}},
      {"mid_block.attentions.0.to_v.weight", Shape{256, 256}},
      {"mid_block.resnets.1.conv2.weight", Shape{256, 256, 3, 3}},
      {"up_blocks.0.resnets.0.conv1.weight", Shape{256, 512, 3, 3}},
      {"up_blocks.2.attentions.2.to_k.weight", Shape{256, 256}},
      {"up_blocks.3.resnets.2.conv_shortcut.weight", Shape{128, 256, 1, 1}},
      {"up_blocks.2.upsamplers.0.conv.weight", Shape{256, 256, 3, 3}},
      {"conv_norm_out.weight", Shape{128}},
      {"conv_out.weight", Shape{3, 128, 3, 3}},
  };
  for (const auto& [name, shape] : want) {
    ASSERT_TRUE(shapes.count(name)) << name;
    EXPECT_EQ(shapes[name], shape) << name << " is " << shapes[name].str();
  }
  EXPECT_FALSE(shapes.count("up_blocks.3.upsamplers.0.conv.weight"));  // the last level does not up-sample
  EXPECT_FALSE(shapes.count("down_blocks.3.downsamplers.0.conv.weight"));
}

UNetConfig tiny() {
  UNetConfig c;
  c.sample_size = 8, c.in_channels = 2, c.channels = 4, c.channel_mult = {1, 2}, c.res_blocks = 1;
  c.attention_resolutions = {4}, c.groups = 2, c.dropout = 0.3, c.head_dim = 4;
  c.num_classes = 3, c.class_dropout = 0.1, c.learn_sigma = true;
  return c;
}

TEST(UNet, BuiltModelHoldsTheCountedParameters) {
  for (bool ddpm_pad : {true, false})
    for (std::int64_t classes : {0, 3}) {
      UNetConfig c = tiny();
      c.num_classes = classes, c.ddpm_downsample_padding = ddpm_pad;
      UNet model(c, DType::F32, cpu_ops(), 2, 1);
      EXPECT_EQ(model.params().count(), unet_parameter_count(c)) << classes << " classes";
    }
}

struct Probe {
  UNetConfig c = tiny();
  std::int64_t B = 3, S = c.sample_size;
  UNet model{c, DType::F64, cpu_ops(), B, 7};
  std::vector<double> x, g, out;
  float t[3] = {0.0f, 41.0f, 999.0f};
  std::int64_t y[3] = {2, 0, 3};  // 3: the null class
  explicit Probe(std::mt19937_64& rng) {
    std::normal_distribution<double> normal;
    const Tensor w = model.params().values();
    for (std::int64_t i = 0; i < w.numel(); ++i) w.data<double>()[i] = 0.3 * normal(rng);  // DDPM's zeros hide paths
    x.resize(std::size_t(B * c.in_channels * S * S));
    g.resize(std::size_t(B * c.out_channels() * S * S));
    out.resize(g.size());
    for (double& v : x) v = normal(rng);
    for (double& v : g) v = normal(rng);
  }
  double loss() {
    model.forward(Tensor(x.data(), DType::F64, Shape{B, c.in_channels, S, S}), t, y,
                  Tensor(out.data(), DType::F64, Shape{B, c.out_channels(), S, S}));
    double s = 0;
    for (std::size_t i = 0; i < g.size(); ++i) s += g[i] * out[i];
    return s;
  }
  void backward() {
    const Tensor dw = model.params().grads();
    std::fill(dw.data<double>(), dw.data<double>() + dw.numel(), 0.0);
    model.backward(Tensor(g.data(), DType::F64, Shape{B, c.out_channels(), S, S}), Tensor());
  }
};

// L = ⟨g, UNet(x, t, y)⟩ in training mode (dropout masks fixed by the key), every parameter drawn at
// random: each parameter tensor's gradient against central differences.
TEST(UNet, BackwardMatchesCentralDifferences) {
  const std::uint64_t seed = test::fresh_seed("UNet.BackwardMatchesCentralDifferences");
  std::mt19937_64 rng(seed);
  Probe probe(rng);
  const DropoutKey key{seed, 5, 100, 0};
  probe.model.set_dropout(&key);
  probe.loss();
  probe.backward();
  const Tensor w = probe.model.params().values(), dw = probe.model.params().grads();
  double* p = w.data<double>();
  std::vector<double> analytic(dw.data<double>(), dw.data<double>() + dw.numel()), numeric(analytic.size());
  // h = 1e-5: the round-off in (L(p + h) − L(p − h)) / 2h, ~1e-16 |L| / h, stays below small
  // tensors' gradients (the attention's q bias), and the O(h²) truncation is smaller still.
  const double h = 1e-5;
  for (std::int64_t i = 0; i < w.numel(); ++i) {
    const double keep = p[i];
    p[i] = keep + h;
    const double up = probe.loss();
    p[i] = keep - h;
    const double down = probe.loss();
    p[i] = keep;
    numeric[std::size_t(i)] = (up - down) / (2 * h);
  }
  const double e = test::rel_error(analytic, numeric, numeric.size());
  std::printf("U-Net (%lld parameters): ‖analytic − numeric‖/‖numeric‖ = %.2e\n",
              (long long)probe.model.params().count(), e);
  EXPECT_LT(e, 1e-6);
  double total = 0;
  for (double v : numeric) total += v * v;
  for (const ParamInfo& info : probe.model.params().params()) {  // each tensor on its own, so none hides
    double num = 0, den = 0, ana = 0;
    for (std::int64_t j = 0; j < info.shape.numel(); ++j) {
      const std::size_t k = std::size_t(info.offset + j);
      num += (analytic[k] - numeric[k]) * (analytic[k] - numeric[k]);
      den += numeric[k] * numeric[k];
      ana += analytic[k] * analytic[k];
    }
    if (info.name.size() > 9 && info.name.substr(info.name.size() - 9) == "to_k.bias") {
      // Softmax ignores a shift shared by a query's logits, so the key bias has no gradient.
      EXPECT_LT(std::sqrt(ana / total), 1e-9) << info.name;
      EXPECT_LT(std::sqrt(den / total), 1e-7) << info.name;
      continue;
    }
    EXPECT_GT(den, 0.0) << info.name << " has no gradient";
    EXPECT_LT(std::sqrt(num / den), 1e-5) << info.name;
  }
}

// Dropout acts in training mode only: without a key the output is deterministic and differs from
// a keyed forward; the same key gives the same output.
TEST(UNet, DropoutOnlyWithAKey) {
  std::mt19937_64 rng(test::fresh_seed("UNet.DropoutOnlyWithAKey"));
  Probe probe(rng);
  const double eval = probe.loss();
  const DropoutKey key{11, 2, 0, 0};
  probe.model.set_dropout(&key);
  const double train = probe.loss();
  EXPECT_EQ(probe.loss(), train);
  EXPECT_NE(train, eval);
  probe.model.set_dropout(nullptr);
  EXPECT_EQ(probe.loss(), eval);
}

// Every mark the backward reports covers gradients that no later part of backward changes, the
// marks never decrease, and the last covers the whole buffer.
TEST(UNet, GradsReadyMarksAreFinal) {
  std::mt19937_64 rng(test::fresh_seed("UNet.GradsReadyMarksAreFinal"));
  Probe probe(rng);
  const Tensor dw = probe.model.params().grads();
  std::vector<std::pair<std::int64_t, std::vector<double>>> seen;
  probe.model.set_grads_ready([&](std::int64_t mark, const char*) {
    seen.emplace_back(mark, std::vector<double>(dw.data<double>(), dw.data<double>() + mark));
  });
  probe.loss();
  probe.backward();
  ASSERT_GT(seen.size(), 5u);
  EXPECT_EQ(seen.back().first, dw.numel());
  for (std::size_t i = 0; i < seen.size(); ++i) {
    if (i > 0) {
      EXPECT_GE(seen[i].first, seen[i - 1].first);
    }
    for (std::int64_t j = 0; j < seen[i].first; ++j)
      ASSERT_EQ(seen[i].second[std::size_t(j)], dw.data<double>()[j]) << "mark " << i << " element " << j;
  }
}

}  // namespace
}  // namespace carnot
