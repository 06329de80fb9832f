// The hidden features networks expose (carnot align): one row per sample of the last forward, and
// each row that sample's own: changing sample 1's input leaves sample 0's row unchanged, and
// changes its own.
#include <gtest/gtest.h>

#include <random>

#include "framework/nn/dit.h"
#include "framework/nn/mlp_score_net.h"
#include "framework/nn/unet.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

void expect_rows_are_samples(ScoreNetwork& net, std::int64_t dim, const std::int64_t* y, std::uint64_t seed,
                             const char* what) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  const Tensor w = net.params().values();
  for (std::int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] = float(0.3 * normal(rng));
  const std::int64_t n = 2;
  std::vector<float> x(std::size_t(n * dim)), out(std::size_t(n * net.outputs()));
  for (float& v : x) v = float(normal(rng));
  const float t[n] = {10, 500};
  const std::vector<std::string> layers = net.feature_layers();
  ASSERT_FALSE(layers.empty()) << what;
  EXPECT_NE(std::find(layers.begin(), layers.end(), net.default_feature_layer()), layers.end()) << what;
  auto run = [&](const std::string& layer) {
    net.forward(Tensor(x.data(), DType::F32, Shape{n, dim}), t, y, Tensor(out.data(), DType::F32, Shape{n, net.outputs()}));
    const Tensor f = net.features(layer);
    EXPECT_EQ(f.dim(0), n) << what << " " << layer;
    return std::vector<float>(f.data<float>(), f.data<float>() + f.numel());
  };
  for (const std::string& layer : {layers.front(), net.default_feature_layer(), layers.back()}) {
    const std::vector<float> before = run(layer);
    const std::size_t width = before.size() / n;
    for (std::int64_t d = 0; d < dim; ++d) x[std::size_t(dim + d)] += 0.5f;
    const std::vector<float> after = run(layer);
    for (std::int64_t d = 0; d < dim; ++d) x[std::size_t(dim + d)] -= 0.5f;
    EXPECT_TRUE(std::equal(before.begin(), before.begin() + std::ptrdiff_t(width), after.begin())) << what << " " << layer;
    EXPECT_FALSE(std::equal(before.begin() + std::ptrdiff_t(width), before.end(), after.begin() + std::ptrdiff_t(width)))
        << what << " " << layer;
  }
  EXPECT_THROW(net.features("no.such.layer"), UsageError) << what;
}

TEST(Features, RowsAreSamples) {
  const std::uint64_t seed = test::fresh_seed("Features.RowsAreSamples");
  MlpConfig mc{3, 16, 3, 8};
  MlpScoreNet mlp(mc, DType::F32, cpu_ops(), 2, 1);
  expect_rows_are_samples(mlp, 3, nullptr, seed, "MLP");
  DitConfig dc;
  dc.input_size = 4, dc.patch = 2, dc.in_channels = 2, dc.hidden = 12, dc.depth = 3, dc.heads = 3, dc.frequency_dim = 6;
  dc.num_classes = 0;
  Dit dit(dc, DType::F32, cpu_ops(), 2, 1);
  expect_rows_are_samples(dit, 2 * 16, nullptr, seed + 1, "DiT");
  UNetConfig uc;
  uc.sample_size = 8, uc.in_channels = 2, uc.channels = 8, uc.channel_mult = {1, 1}, uc.res_blocks = 1;
  uc.attention_resolutions = {4}, uc.groups = 2, uc.dropout = 0, uc.head_dim = 4;
  UNet unet(uc, DType::F32, cpu_ops(), 2, 1);
  expect_rows_are_samples(unet, 2 * 64, nullptr, seed + 2, "U-Net");
}

}  // namespace
}  // namespace carnot
