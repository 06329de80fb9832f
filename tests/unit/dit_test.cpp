// DiT: parameter counts against the reference models', the built model against the count, and
// the whole network's backward against float64 central differences on a tiny configuration.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "framework/cli/model_source.h"
#include "framework/io/job_spec.h"
#include "framework/nn/dit.h"
#include "framework/train/networks.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

// facebookresearch/DiT on 256×256 images (32×32×4 latents), 1000 classes, learned σ:
// sum(p.numel() for p in model.parameters()), pos_embed included.
TEST(Dit, ParameterCountsMatchTheReference) {
  EXPECT_EQ(dit_parameter_count(DitConfig::preset("XL", 2)), 675129632);
  // The paper's table (millions): S 33, B 130, L 458, XL 675 at patch 2.
  const struct {
    const char* size;
    double millions;
  } table[] = {{"S", 33.0}, {"B", 130.0}, {"L", 458.0}, {"XL", 675.0}};
  for (const auto& row : table) {
    const double m = double(dit_parameter_count(DitConfig::preset(row.size, 2))) / 1e6;
    std::printf("DiT-%s/2: %.3f M parameters\n", row.size, m);
    EXPECT_NEAR(m, row.millions, 0.5 + row.millions * 0.005) << row.size;
  }
}

DitConfig tiny() {
  DitConfig c;
  c.input_size = 4, c.patch = 2, c.in_channels = 2, c.hidden = 8, c.depth = 2, c.heads = 2;
  c.num_classes = 3, c.frequency_dim = 6;
  return c;
}

TEST(Dit, BuiltModelHoldsTheCountedParameters) {
  for (std::int64_t classes : {0, 3}) {
    DitConfig c = tiny();
    c.num_classes = classes;
    Dit model(c, DType::F32, cpu_ops(), 2, 1);
    EXPECT_EQ(model.params().count() + model.pos_embed().numel(), dit_parameter_count(c)) << classes << " classes";
  }
}

TEST(Dit, PositionEmbeddingIsMaesSinCos) {
  const std::vector<double> e = sincos_pos_embed_2d(8, 3);  // dim 8: 2 frequencies per axis
  // Token (i, j) = (1, 2): [sin 2, sin(2/100), cos 2, cos(2/100), sin 1, sin(1/100), cos 1, cos(1/100)].
  const double* r = e.data() + (1 * 3 + 2) * 8;
  const double want[8] = {std::sin(2.0), std::sin(0.02), std::cos(2.0), std::cos(0.02),
                          std::sin(1.0), std::sin(0.01), std::cos(1.0), std::cos(0.01)};
  for (int k = 0; k < 8; ++k) EXPECT_NEAR(r[k], want[k], 1e-15) << k;
}

// L = ⟨g, DiT(x, t, y)⟩ with every parameter drawn at random (adaLN-Zero's zeros would hide most
// paths): the gradient of every parameter against central differences.
TEST(Dit, BackwardMatchesCentralDifferences) {
  const std::uint64_t seed = test::fresh_seed("Dit.BackwardMatchesCentralDifferences");
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  const DitConfig c = tiny();
  const std::int64_t B = 2, H = c.input_size;
  Dit model(c, DType::F64, cpu_ops(), B, seed);
  const Tensor w = model.params().values(), dw = model.params().grads();
  double* p = w.data<double>();
  for (std::int64_t i = 0; i < w.numel(); ++i) p[i] = 0.4 * normal(rng);
  std::vector<double> x(std::size_t(B * c.in_channels * H * H)), g(std::size_t(B * c.out_channels() * H * H)),
      out(g.size());
  for (double& v : x) v = normal(rng);
  for (double& v : g) v = normal(rng);
  const float t[2] = {3.0f, 700.0f};
  const std::int64_t y[2] = {1, 3};  // 3: the null class
  const Tensor xt(x.data(), DType::F64, Shape{B, c.in_channels, H, H}), ot(out.data(), DType::F64,
                                                                           Shape{B, c.out_channels(), H, H});
  auto loss = [&] {
    model.forward(xt, t, y, ot);
    double s = 0;
    for (std::size_t i = 0; i < g.size(); ++i) s += g[i] * out[i];
    return s;
  };
  loss();
  std::fill(dw.data<double>(), dw.data<double>() + dw.numel(), 0.0);
  model.backward(Tensor(g.data(), DType::F64, Shape{B, c.out_channels(), H, H}));
  std::vector<double> analytic(dw.data<double>(), dw.data<double>() + dw.numel()), numeric(analytic.size());
  const double h = 1e-6;
  for (std::int64_t i = 0; i < w.numel(); ++i) {
    const double keep = p[i];
    p[i] = keep + h;
    const double up = loss();
    p[i] = keep - h;
    const double down = loss();
    p[i] = keep;
    numeric[std::size_t(i)] = (up - down) / (2 * h);
  }
  const double e = test::rel_error(analytic, numeric, numeric.size());
  std::printf("DiT (%lld parameters): ‖analytic − numeric‖/‖numeric‖ = %.2e\n", (long long)model.params().count(), e);
  EXPECT_LT(e, 1e-6);
  for (const ParamInfo& info : model.params().params()) {  // each tensor on its own, so none hides
    double num = 0, den = 0;
    for (std::int64_t j = 0; j < info.shape.numel(); ++j) {
      const std::size_t k = std::size_t(info.offset + j);
      num += (analytic[k] - numeric[k]) * (analytic[k] - numeric[k]);
      den += numeric[k] * numeric[k];
    }
    EXPECT_GT(den, 0.0) << info.name << " has no gradient";
    EXPECT_LT(std::sqrt(num / den), 1e-5) << info.name;
  }
}

// train.recompute: the blocks' forward runs again inside backward, into buffers all blocks share;
// the output, every gradient and the features are the same bits as without, in float32 and bf16.
TEST(Dit, RecomputeGivesTheSameBits) {
  const std::uint64_t seed = test::fresh_seed("Dit.RecomputeGivesTheSameBits");
  std::mt19937_64 rng(seed);
  for (const DType dt : {DType::F32, DType::BF16}) {
    DitConfig plain = tiny();
    plain.depth = 3;
    DitConfig again = plain;
    again.recompute = true;
    const std::int64_t B = 3, H = plain.input_size;
    Dit a(plain, dt, cpu_ops(), B, seed), b(again, dt, cpu_ops(), B, seed);
    const std::int64_t nx = B * plain.in_channels * H * H, ny = B * plain.out_channels() * H * H;
    const std::vector<double> xr = test::randn(rng, std::size_t(nx)), gr = test::randn(rng, std::size_t(ny)),
                              wr = test::randn(rng, std::size_t(a.params().values().numel()), 0.3);
    const std::size_t z = dtype_size(dt);
    std::vector<char> x(std::size_t(nx) * z), g(std::size_t(ny) * z), oa(g.size()), ob(g.size());
    cpu_ops().convert(nx, DType::F64, xr.data(), dt, x.data(), false);
    cpu_ops().convert(ny, DType::F64, gr.data(), dt, g.data(), false);
    for (Dit* m : {&a, &b})  // random weights everywhere (adaLN-Zero's zeros would hide most paths)
      cpu_ops().convert(m->params().values().numel(), DType::F64, wr.data(), dt, m->params().values().raw(), false);
    const float t[3] = {3.0f, 700.0f, 12.0f};
    const std::int64_t y[3] = {1, 3, 0};
    for (auto [m, o] : {std::pair{&a, &oa}, std::pair{&b, &ob}}) {
      m->forward(Tensor(x.data(), dt, Shape{B, plain.in_channels, H, H}), t, y,
                 Tensor(o->data(), dt, Shape{B, plain.out_channels(), H, H}));
      m->backward(Tensor(g.data(), dt, Shape{B, plain.out_channels(), H, H}));
    }
    EXPECT_EQ(oa, ob) << dtype_name(dt);
    EXPECT_TRUE(test::host_bytes(a.params().grads()) == test::host_bytes(b.params().grads())) << dtype_name(dt);
    EXPECT_TRUE(test::host_bytes(a.features("blocks.1")) == test::host_bytes(b.features("blocks.1"))) << dtype_name(dt);
    const std::vector<char> zeros(a.params().grads().bytes(), 0);
    EXPECT_FALSE(test::host_bytes(a.params().grads()) == zeros) << "the gradients are not all zero";
  }
  // Activation memory: one block's buffers plus every block's output, so what recompute saves is
  // depth − 1 blocks' buffers, each far larger than the block's output (13 C-wide rows and more per
  // token against 1).
  DitConfig xl = DitConfig::preset("XL", 2);
  const std::int64_t plain = dit_activation_elements(xl);
  xl.recompute = true;
  const std::int64_t kept = dit_activation_elements(xl);
  std::printf("DiT-XL/2 activations per sample: %.1f M elements, %.1f M with recompute\n", double(plain) / 1e6,
              double(kept) / 1e6);
  const std::int64_t saved_per_block = (plain - kept) / (xl.depth - 1), output = xl.tokens() * xl.hidden;
  EXPECT_EQ(plain - kept, saved_per_block * (xl.depth - 1));
  EXPECT_GT(saved_per_block, 10 * output);
}

// Sampling and eval evaluate a DiT in chunks whose float32 activations fit 4 GiB on the CPU: a
// DiT-XL/2 on 32×32 images gets a handful of rows (about 0.5 GB each), a small one its 2048.
TEST(Dit, SamplingChunksFitTheActivationBudget) {
  const DeviceChoice cpu;
  const JobSpec xl = parse_job_spec("name: x\ndata: {kind: dead_leaves, image_size: 32}\n"
                                    "model: {kind: dit, size: XL, patch: 2}\n", "job.yaml");
  const double per_row = 4.0 * double(dit_activation_elements(dit_config(xl)));
  const std::int64_t rows = rows_that_fit(xl, cpu);
  EXPECT_EQ(rows, std::int64_t(4.0 * double(std::int64_t(1) << 30) / per_row));
  EXPECT_GE(rows, 1);
  EXPECT_LT(double(rows) * per_row, 4.0 * double(std::int64_t(1) << 30));
  EXPECT_GE(double(rows + 1) * per_row, 4.0 * double(std::int64_t(1) << 30));
  const JobSpec small = parse_job_spec("name: s\ndata: {kind: dead_leaves, image_size: 8}\n"
                                       "model: {kind: dit, patch: 2, heads: 2, hidden: 32, depth: 2}\n", "job.yaml");
  EXPECT_GT(rows_that_fit(small, cpu), 2048);
  const JobSpec mlp = parse_job_spec("name: m\ndata: {kind: swissroll}\nmodel: {kind: mlp}\n", "job.yaml");
  EXPECT_EQ(rows_that_fit(mlp, cpu), std::numeric_limits<std::int64_t>::max());
}

}  // namespace
}  // namespace carnot
