// The CUDA op table against its CPU twin, op by op, on fresh random inputs in float32 and float64:
// ‖gpu − cpu‖/‖cpu‖ ≤ 1e-5 in float32 (the CPU's fast exp differs from CUDA's in the last bits)
// and ≤ 1e-12 in float64; moves and dropout masks exactly; reductions (float64 sums in another
// order) to 1e-12 and bitwise equal run to run. Skipped with a message when no GPU is usable.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <random>

#include "framework/core/device.h"
#include "framework/core/error.h"
#include "kernels/bf16.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/cuda_runtime.h"
#include "tests/cuda/twin.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

using namespace twin;

template <class T> void elementwise_ops(std::mt19937_64& rng) {
  const DType dt = dtype_of<T>();
  const std::int64_t rows = 37, cols = 129, n = rows * cols;
  Ops& gpu = cuda_ops();
  Ops& cpu = cpu_ops();
  using Unary = std::function<void(Ops&, const void*, void*)>;
  using Binary = std::function<void(Ops&, const void*, const void*, void*)>;
  const std::pair<const char*, Unary> unary[] = {
      {"silu_forward", [&](Ops& o, const void* x, void* y) { o.silu_forward(dt, n, x, y); }},
      {"relu_forward", [&](Ops& o, const void* x, void* y) { o.relu_forward(dt, n, x, y); }},
      {"gelu_forward", [&](Ops& o, const void* x, void* y) { o.gelu_forward(dt, n, x, y); }},
      {"accumulate", [&](Ops& o, const void* x, void* y) { o.accumulate(dt, n, x, y); }},
      {"add_bias", [&](Ops& o, const void* b, void* y) { o.add_bias(dt, rows, cols, b, y); }},
      {"bias_grad", [&](Ops& o, const void* dy, void* db) { o.bias_grad(dt, rows, cols, dy, db); }},
  };
  for (const auto& [name, op] : unary) {
    Twin<T> x(randn<T>(rng, std::size_t(n), 2.0)), y(randn<T>(rng, std::size_t(n)));
    op(cpu, x.h(), y.h());
    op(gpu, x.d(), y.d());
    const std::size_t len = std::string(name) == "bias_grad" ? std::size_t(cols) : y.host.size();
    const double e = test::rel_error(y.from_device(), y.host, len);
    EXPECT_LT(e, bound<T>()) << name << " " << dtype_name(dt);
  }
  const std::pair<const char*, Binary> binary[] = {
      {"silu_backward", [&](Ops& o, const void* x, const void* dy, void* dx) { o.silu_backward(dt, n, x, dy, dx); }},
      {"relu_backward", [&](Ops& o, const void* x, const void* dy, void* dx) { o.relu_backward(dt, n, x, dy, dx); }},
      {"gelu_backward", [&](Ops& o, const void* x, const void* dy, void* dx) { o.gelu_backward(dt, n, x, dy, dx); }},
      {"add", [&](Ops& o, const void* a, const void* b, void* y) { o.add(dt, n, a, b, y); }},
  };
  for (const auto& [name, op] : binary) {
    Twin<T> x(randn<T>(rng, std::size_t(n), 2.0)), dy(randn<T>(rng, std::size_t(n))), dx(zeros<T>(n));
    op(cpu, x.h(), dy.h(), dx.h());
    op(gpu, x.d(), dy.d(), dx.d());
    EXPECT_LT(test::rel_error(dx.from_device(), dx.host, dx.host.size()), bound<T>()) << name << " " << dtype_name(dt);
  }
  Twin<T> s(randn<T>(rng, std::size_t(n)));
  cpu.scale(dt, n, -0.37, s.h());
  gpu.scale(dt, n, -0.37, s.d());
  EXPECT_LT(test::rel_error(s.from_device(), s.host, s.host.size()), bound<T>()) << "scale";
  gpu.fill_zero(dt, n, s.d());
  for (T v : s.from_device()) ASSERT_EQ(v, T(0)) << "fill_zero";
}

TEST(CudaOps, ElementwiseMatchCpuTwin) {
  SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::fresh_seed("CudaOps.Elementwise"));
  elementwise_ops<float>(rng);
  elementwise_ops<double>(rng);
}

template <class T> void reductions(std::mt19937_64& rng) {
  const DType dt = dtype_of<T>();
  for (const std::int64_t n : {std::int64_t(1), std::int64_t(1000), std::int64_t(3) << 20}) {
    Twin<T> x(randn<T>(rng, std::size_t(n)));
    const double want = cpu_ops().sum_squares(dt, n, x.h());
    const double got = cuda_ops().sum_squares(dt, n, x.d()), again = cuda_ops().sum_squares(dt, n, x.d());
    EXPECT_NEAR(got, want, 1e-12 * want) << "sum_squares n " << n;
    EXPECT_EQ(std::memcmp(&got, &again, sizeof got), 0) << "sum_squares is not deterministic";
  }
  const std::int64_t rows = 301, cols = 17;
  Twin<T> pred(randn<T>(rng, std::size_t(rows * cols))), target(randn<T>(rng, std::size_t(rows * cols)));
  Twin<T> dpred(zeros<T>(rows * cols));
  std::vector<float> w0(static_cast<std::size_t>(rows));
  for (float& v : w0) v = float(std::uniform_real_distribution<double>(0.1, 2.0)(rng));
  Twin<float> w(w0);
  for (const bool weighted : {false, true}) {
    const double want = cpu_ops().mse_loss(dt, rows, cols, pred.h(), target.h(), weighted ? w.h() : nullptr, 0.25, dpred.h());
    const double got = cuda_ops().mse_loss(dt, rows, cols, pred.d(), target.d(), weighted ? w.d() : nullptr, 0.25, dpred.d());
    EXPECT_NEAR(got, want, 1e-12 * want) << "mse_loss weighted " << weighted;
    EXPECT_LT(test::rel_error(dpred.from_device(), dpred.host, dpred.host.size()), bound<T>()) << "mse_loss dpred";
  }
}

TEST(CudaOps, ReductionsMatchCpuTwinAndRepeat) {
  SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::fresh_seed("CudaOps.Reductions"));
  reductions<float>(rng);
  reductions<double>(rng);
}

// Three steps of AdamW, SGD (heavy-ball and Nesterov) and the EMA on the flat fp32 buffer.
TEST(CudaOps, OptimizerStepsMatchCpuTwin) {
  SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::fresh_seed("CudaOps.Optimizers"));
  const std::int64_t n = 100003;
  Twin<float> p(randn<float>(rng, std::size_t(n))), m(zeros<float>(n)), v(zeros<float>(n));
  Twin<float> buf(zeros<float>(n)), ema(p.host);
  for (int step = 1; step <= 3; ++step) {
    Twin<float> g(randn<float>(rng, std::size_t(n)));
    cpu_ops().adamw_step(n, p.h(), g.h(), m.h(), v.h(), 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
    cuda_ops().adamw_step(n, p.d(), g.d(), m.d(), v.d(), 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
    cpu_ops().sgd_step(n, p.h(), g.h(), buf.h(), 0.05f, 0.9f, 1e-4f, step == 3);
    cuda_ops().sgd_step(n, p.d(), g.d(), buf.d(), 0.05f, 0.9f, 1e-4f, step == 3);
    cpu_ops().ema_update(n, 0.99f, p.h(), ema.h());
    cuda_ops().ema_update(n, 0.99f, p.d(), ema.d());
  }
  EXPECT_LT(test::rel_error(p.from_device(), p.host, p.host.size()), 1e-6);
  EXPECT_LT(test::rel_error(v.from_device(), v.host, v.host.size()), 1e-6);
  EXPECT_LT(test::rel_error(buf.from_device(), buf.host, buf.host.size()), 1e-6);
  EXPECT_LT(test::rel_error(ema.from_device(), ema.host, ema.host.size()), 1e-6);
}

// The fused update (one kernel on the GPU) against the CPU's scale, adamw_step, ema_update and
// convert: clipped and not, with and without the EMA and the bf16 copy.
TEST(CudaOps, FusedAdamwEmaStepMatchesCpuTwin) {
  SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::fresh_seed("CudaOps.FusedAdamwEma"));
  const std::int64_t n = 100003;
  Twin<float> p(randn<float>(rng, std::size_t(n))), m(zeros<float>(n)), v(zeros<float>(n)), ema(p.host);
  Twin<std::uint16_t> p16{std::vector<std::uint16_t>(std::size_t(n))};
  for (int step = 1; step <= 4; ++step) {
    Twin<float> g(randn<float>(rng, std::size_t(n)));
    const double clip = step % 2 == 1 ? 0.37 : 1.0;
    const bool with_ema = step != 3, with_bf16 = step != 4;
    cpu_ops().adamw_ema_step(n, p.h(), g.h(), clip, m.h(), v.h(), 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, step,
                             with_ema ? ema.h() : nullptr, 0.99f, with_bf16 ? p16.h() : nullptr);
    cuda_ops().adamw_ema_step(n, p.d(), g.d(), clip, m.d(), v.d(), 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, step,
                              with_ema ? ema.d() : nullptr, 0.99f, with_bf16 ? p16.d() : nullptr);
    EXPECT_LT(test::rel_error(g.from_device(), g.host, g.host.size()), 1e-6) << "the gradient, left scaled";
  }
  EXPECT_LT(test::rel_error(p.from_device(), p.host, p.host.size()), 1e-6);
  EXPECT_LT(test::rel_error(m.from_device(), m.host, m.host.size()), 1e-6);
  EXPECT_LT(test::rel_error(v.from_device(), v.host, v.host.size()), 1e-6);
  EXPECT_LT(test::rel_error(ema.from_device(), ema.host, ema.host.size()), 1e-6);
  expect_close_bf16(p16, "the weights rounded to bf16 (step 3's)");
}

// LayerNorm (float64 statistics), adaLN's modulation and gated residual, forward and backward.
template <class T> void norm_ops(std::mt19937_64& rng) {
  const DType dt = dtype_of<T>();
  Ops& gpu = cuda_ops();
  Ops& cpu = cpu_ops();
  const std::int64_t rows = 77, cols = 384;
  Twin<T> x(randn<T>(rng, std::size_t(rows * cols), 3.0)), y(zeros<T>(rows * cols)), mean(zeros<T>(rows)),
      rstd(zeros<T>(rows)), dy(randn<T>(rng, std::size_t(rows * cols))), dx(zeros<T>(rows * cols));
  cpu.layer_norm_forward(dt, rows, cols, 1e-6, x.h(), y.h(), mean.h(), rstd.h());
  gpu.layer_norm_forward(dt, rows, cols, 1e-6, x.d(), y.d(), mean.d(), rstd.d());
  expect_close(y, "layer_norm y");
  expect_close(mean, "layer_norm mean");
  expect_close(rstd, "layer_norm rstd");
  cpu.layer_norm_backward(dt, rows, cols, x.h(), mean.h(), rstd.h(), dy.h(), dx.h());
  gpu.layer_norm_backward(dt, rows, cols, x.d(), mean.d(), rstd.d(), dy.d(), dx.d());
  expect_close(dx, "layer_norm dx");

  const std::int64_t batch = 3, tokens = 16, C = 24, stride = 6 * C;
  Twin<T> h(randn<T>(rng, std::size_t(batch * tokens * C))), mod(randn<T>(rng, std::size_t(batch * stride))),
      out(randn<T>(rng, std::size_t(batch * tokens * C))), g(randn<T>(rng, std::size_t(batch * tokens * C))),
      dh(zeros<T>(batch * tokens * C)), dmod(zeros<T>(batch * stride));
  const std::int64_t shift = 0, scale = C, gate = 2 * C;
  cpu.modulate_forward(dt, batch, tokens, C, h.h(), mod.h() + shift, mod.h() + scale, stride, out.h());
  gpu.modulate_forward(dt, batch, tokens, C, h.d(), mod.d() + shift, mod.d() + scale, stride, out.d());
  expect_close(out, "modulate_forward");
  cpu.modulate_backward(dt, batch, tokens, C, h.h(), mod.h() + scale, stride, g.h(), dh.h(), dmod.h() + shift,
                        dmod.h() + scale);
  gpu.modulate_backward(dt, batch, tokens, C, h.d(), mod.d() + scale, stride, g.d(), dh.d(), dmod.d() + shift,
                        dmod.d() + scale);
  expect_close(dh, "modulate_backward dx");
  expect_close(dmod, "modulate_backward dshift, dscale");
  cpu.gated_residual_forward(dt, batch, tokens, C, out.h(), h.h(), mod.h() + gate, stride, out.h());  // in place
  gpu.gated_residual_forward(dt, batch, tokens, C, out.d(), h.d(), mod.d() + gate, stride, out.d());
  expect_close(out, "gated_residual_forward");
  cpu.gated_residual_backward(dt, batch, tokens, C, h.h(), mod.h() + gate, stride, g.h(), dh.h(), dmod.h() + gate);
  gpu.gated_residual_backward(dt, batch, tokens, C, h.d(), mod.d() + gate, stride, g.d(), dh.d(), dmod.d() + gate);
  expect_close(dh, "gated_residual_backward dh");
  expect_close(dmod, "gated_residual_backward dgate");

  Twin<T> fmean(zeros<T>(batch * tokens)), frstd(zeros<T>(batch * tokens));  // the fused adaLN
  cpu.layer_norm_modulate_forward(dt, batch, tokens, C, 1e-6, h.h(), mod.h() + shift, mod.h() + scale, stride,
                                  out.h(), fmean.h(), frstd.h());
  gpu.layer_norm_modulate_forward(dt, batch, tokens, C, 1e-6, h.d(), mod.d() + shift, mod.d() + scale, stride,
                                  out.d(), fmean.d(), frstd.d());
  expect_close(out, "layer_norm_modulate_forward");
  expect_close(frstd, "layer_norm_modulate_forward rstd");
  cpu.layer_norm_modulate_backward(dt, batch, tokens, C, h.h(), fmean.h(), frstd.h(), mod.h() + scale, stride, g.h(),
                                   dh.h(), dmod.h() + shift, dmod.h() + scale, true);
  gpu.layer_norm_modulate_backward(dt, batch, tokens, C, h.d(), fmean.d(), frstd.d(), mod.d() + scale, stride, g.d(),
                                   dh.d(), dmod.d() + shift, dmod.d() + scale, true);
  expect_close(dh, "layer_norm_modulate_backward dx (accumulated)");
  expect_close(dmod, "layer_norm_modulate_backward dshift, dscale");
}

TEST(CudaOps, NormsMatchCpuTwin) {
  SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::fresh_seed("CudaOps.Norms"));
  norm_ops<float>(rng);
  norm_ops<double>(rng);
}

// Moves are exact: embeddings, transposes, unpatchify, block copies, up-sampling; dropout's masks
// come from the same Philox words, so they agree bitwise.
template <class T> void layout_ops(std::mt19937_64& rng) {
  const DType dt = dtype_of<T>();
  Ops& gpu = cuda_ops();
  Ops& cpu = cpu_ops();
  const std::int64_t rows = 50, dim = 33, vocab = 7;
  std::vector<std::int64_t> id_values(static_cast<std::size_t>(rows));
  for (auto& v : id_values) v = std::int64_t(rng() % vocab);  // repeats: backward adds several rows into one
  Twin<std::int64_t> ids(id_values);
  Twin<T> table(randn<T>(rng, std::size_t(vocab * dim))), emb(zeros<T>(rows * dim)), demb(randn<T>(rng, std::size_t(rows * dim)));
  const std::int64_t table_rows = std::int64_t(table.host.size()) / dim;
  cpu.embedding_forward(dt, rows, dim, table.h(), table_rows, ids.h(), emb.h());
  gpu.embedding_forward(dt, rows, dim, table.d(), table_rows, ids.d(), emb.d());
  expect_close(emb, "embedding_forward", 0);
  cpu.embedding_backward(dt, rows, dim, ids.h(), demb.h(), table.h(), table_rows);
  gpu.embedding_backward(dt, rows, dim, ids.d(), demb.d(), table.d(), table_rows);
  expect_close(table, "embedding_backward", 0);

  const std::int64_t batch = 3, h = 4, w = 5, p = 2, C = 3, n = batch * h * w * p * p * C;
  Twin<T> tokens(randn<T>(rng, std::size_t(n))), image(zeros<T>(n)), back(zeros<T>(n)), tr(zeros<T>(n));
  cpu.unpatchify(dt, batch, h, w, p, C, true, tokens.h(), image.h());
  gpu.unpatchify(dt, batch, h, w, p, C, true, tokens.d(), image.d());
  expect_close(image, "unpatchify to image", 0);
  cpu.unpatchify(dt, batch, h, w, p, C, false, image.h(), back.h());
  gpu.unpatchify(dt, batch, h, w, p, C, false, image.d(), back.d());
  expect_close(back, "unpatchify to tokens", 0);
  cpu.transpose_batched(dt, batch, h * w, p * p * C, tokens.h(), tr.h());
  gpu.transpose_batched(dt, batch, h * w, p * p * C, tokens.d(), tr.d());
  expect_close(tr, "transpose_batched", 0);
  for (const bool acc : {false, true}) {
    cpu.copy_blocks(dt, 9, 7, tokens.h() + 3, 20, back.h() + 1, 13, acc);
    gpu.copy_blocks(dt, 9, 7, tokens.d() + 3, 20, back.d() + 1, 13, acc);
    expect_close(back, acc ? "copy_blocks accumulate" : "copy_blocks", 0);
  }

  const std::int64_t planes = 12, ph = 6, pw = 5;
  Twin<T> x(randn<T>(rng, std::size_t(planes * ph * pw))), up(zeros<T>(planes * 4 * ph * pw)),
      dup(randn<T>(rng, std::size_t(planes * 4 * ph * pw))), dx(zeros<T>(planes * ph * pw)),
      v(randn<T>(rng, std::size_t(planes))), sums(zeros<T>(planes));
  cpu.upsample2x_forward(dt, planes, ph, pw, x.h(), up.h());
  gpu.upsample2x_forward(dt, planes, ph, pw, x.d(), up.d());
  expect_close(up, "upsample2x_forward", 0);
  cpu.upsample2x_backward(dt, planes, ph, pw, dup.h(), dx.h());
  gpu.upsample2x_backward(dt, planes, ph, pw, dup.d(), dx.d());
  expect_close(dx, "upsample2x_backward", 0);
  cpu.add_per_plane(dt, planes, ph * pw, v.h(), x.h());
  gpu.add_per_plane(dt, planes, ph * pw, v.d(), x.d());
  expect_close(x, "add_per_plane", 0);
  cpu.sum_per_plane(dt, planes, 4 * ph * pw, dup.h(), sums.h());
  gpu.sum_per_plane(dt, planes, 4 * ph * pw, dup.d(), sums.d());
  expect_close(sums, "sum_per_plane");  // float64 sums in another order, rounded to T

  std::vector<float> t_values = {0.f, 1.f, 37.5f, 999.f, 0.25f};
  Twin<float> t(t_values);
  for (const SinusoidStyle style : {SinusoidStyle{10000, 0, false}, SinusoidStyle{10000, 1, true}}) {
    const std::int64_t edim = 9;  // odd: the last column is zero
    Twin<T> e(randn<T>(rng, std::size_t(5 * edim)));
    cpu.timestep_embedding(dt, 5, edim, t.h(), style, e.h());
    gpu.timestep_embedding(dt, 5, edim, t.d(), style, e.d());
    expect_close(e, "timestep_embedding", std::is_same_v<T, float> ? 1e-6 : 1e-13);
  }

  const std::int64_t drows = 21, dcols = 30;  // not a multiple of 4: the last draw is partly used
  const DropoutKey key{rng(), 17, 1000, 3};
  Twin<T> dxin(randn<T>(rng, std::size_t(drows * dcols))), dyout(zeros<T>(drows * dcols)), mask(zeros<T>(drows * dcols));
  cpu.dropout_forward(dt, drows, dcols, 0.3, key, dxin.h(), dyout.h(), mask.h());
  gpu.dropout_forward(dt, drows, dcols, 0.3, key, dxin.d(), dyout.d(), mask.d());
  expect_close(mask, "dropout mask", 0);
  expect_close(dyout, "dropout_forward", 0);
  cpu.dropout_backward(dt, drows * dcols, mask.h(), dxin.h(), dyout.h());
  gpu.dropout_backward(dt, drows * dcols, mask.d(), dxin.d(), dyout.d());
  expect_close(dyout, "dropout_backward", 0);
}

TEST(CudaOps, LayoutMatchCpuTwin) {
  SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::fresh_seed("CudaOps.Layout"));
  layout_ops<float>(rng);
  layout_ops<double>(rng);
}

// GEMM (every transpose, strided leading dimensions, β ≠ 0), GroupNorm with and without affine,
// and attention forward and backward.
template <class T> void matrix_ops(std::mt19937_64& rng) {
  const DType dt = dtype_of<T>();
  Ops& gpu = cuda_ops();
  Ops& cpu = cpu_ops();
  const std::int64_t m = 67, n = 45, k = 129, pad = 3;
  for (const bool ta : {false, true})
    for (const bool tb : {false, true}) {
      const std::int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
      Twin<T> a(randn<T>(rng, std::size_t((ta ? k : m) * lda))), b(randn<T>(rng, std::size_t((tb ? n : k) * ldb))),
          c(randn<T>(rng, std::size_t(m * ldc)));
      cpu.gemm(dt, ta, tb, m, n, k, 0.7, a.h(), lda, b.h(), ldb, 0.3, c.h(), ldc);
      gpu.gemm(dt, ta, tb, m, n, k, 0.7, a.d(), lda, b.d(), ldb, 0.3, c.d(), ldc);
      expect_close(c, ta ? (tb ? "gemm TT" : "gemm TN") : (tb ? "gemm NT" : "gemm NN"));
    }

  const std::int64_t batch = 3, channels = 12, hw = 49, groups = 4, size = batch * channels * hw;
  for (const bool affine : {false, true}) {
    Twin<T> x(randn<T>(rng, std::size_t(size), 2.0)), gamma(randn<T>(rng, std::size_t(channels))),
        beta(randn<T>(rng, std::size_t(channels))), y(zeros<T>(size)), mean(zeros<T>(batch * groups)),
        rstd(zeros<T>(batch * groups)), dy(randn<T>(rng, std::size_t(size))), dx(zeros<T>(size)),
        dgamma(randn<T>(rng, std::size_t(channels))), dbeta(randn<T>(rng, std::size_t(channels)));
    const T* g_h = affine ? gamma.h() : nullptr;
    const T* g_d = affine ? gamma.d() : nullptr;
    cpu.group_norm_forward(dt, batch, channels, hw, groups, 1e-6, x.h(), g_h, affine ? beta.h() : nullptr, y.h(),
                           mean.h(), rstd.h());
    gpu.group_norm_forward(dt, batch, channels, hw, groups, 1e-6, x.d(), g_d, affine ? beta.d() : nullptr, y.d(),
                           mean.d(), rstd.d());
    expect_close(y, "group_norm y");
    expect_close(rstd, "group_norm rstd");
    cpu.group_norm_backward(dt, batch, channels, hw, groups, x.h(), g_h, mean.h(), rstd.h(), dy.h(), dx.h(),
                            dgamma.h(), dbeta.h());
    gpu.group_norm_backward(dt, batch, channels, hw, groups, x.d(), g_d, mean.d(), rstd.d(), dy.d(), dx.d(),
                            dgamma.d(), dbeta.d());
    expect_close(dx, "group_norm dx");
    expect_close(dgamma, "group_norm dgamma");
    expect_close(dbeta, "group_norm dbeta");
  }

  const std::int64_t ab = 2, tokens = 37, heads = 3, head_dim = 8, C = heads * head_dim;
  Twin<T> qkv(randn<T>(rng, std::size_t(ab * tokens * 3 * C))), lse(zeros<T>(ab * heads * tokens)),
      o(zeros<T>(ab * tokens * C)), dout(randn<T>(rng, std::size_t(ab * tokens * C))),
      dqkv(zeros<T>(ab * tokens * 3 * C)), work(zeros<T>(attention_workspace_elements(tokens)));
  cpu.attention_forward(dt, ab, tokens, heads, head_dim, qkv.h(), work.h(), lse.h(), o.h());
  gpu.attention_forward(dt, ab, tokens, heads, head_dim, qkv.d(), work.d(), lse.d(), o.d());
  expect_close(lse, "attention lse");
  expect_close(o, "attention out");
  cpu.attention_backward(dt, ab, tokens, heads, head_dim, qkv.h(), lse.h(), o.h(), dout.h(), work.h(), dqkv.h());
  gpu.attention_backward(dt, ab, tokens, heads, head_dim, qkv.d(), lse.d(), o.d(), dout.d(), work.d(), dqkv.d());
  expect_close(dqkv, "attention dqkv");
}

TEST(CudaOps, GemmGroupNormAttentionMatchCpuTwin) {
  SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::fresh_seed("CudaOps.Matrix"));
  matrix_ops<float>(rng);
  matrix_ops<double>(rng);
}

// Convolutions of every geometry the models use, forward and backward, with and without bias.
template <class T> void conv_ops(std::mt19937_64& rng) {
  const DType dt = dtype_of<T>();
  const Conv2dShape shapes[] = {
      {2, 3, 9, 8, 5, 3, 1, 1, 0},  // 3×3 same (the CPU's flipped-weight path for dx)
      {2, 4, 8, 8, 4, 3, 2, 0, 1},  // DDPM's down-sampling: stride 2, padding (0, 1, 0, 1)
      {3, 6, 5, 7, 4, 1, 1, 0, 0},  // 1×1: a plain GEMM
      {2, 3, 8, 8, 16, 2, 2, 0, 0},  // DiT's patch embedding, k = s = 2
      {4, 32, 16, 16, 64, 3, 1, 1, 0},  // a U-Net level's 3×3
  };
  for (const Conv2dShape& g : shapes)
    for (const bool with_bias : {false, true}) {
      const std::int64_t nx = g.batch * g.cin * g.h * g.w, ny = g.batch * g.cout * g.out_h() * g.out_w();
      const std::int64_t nw = g.cout * g.cin * g.k * g.k;
      Twin<T> x(randn<T>(rng, std::size_t(nx))), w(randn<T>(rng, std::size_t(nw))), b(randn<T>(rng, std::size_t(g.cout))),
          y(zeros<T>(ny)), dy(randn<T>(rng, std::size_t(ny))), dx(zeros<T>(nx)), dw(randn<T>(rng, std::size_t(nw))),
          db(randn<T>(rng, std::size_t(g.cout))), work(zeros<T>(g.workspace_elements()));
      cpu_ops().conv2d_forward(dt, g, x.h(), w.h(), with_bias ? b.h() : nullptr, work.h(), y.h());
      cuda_ops().conv2d_forward(dt, g, x.d(), w.d(), with_bias ? b.d() : nullptr, work.d(), y.d());
      const std::string what = "conv k" + std::to_string(g.k) + " s" + std::to_string(g.stride) + (with_bias ? " bias" : "");
      expect_close(y, (what + " y").c_str());
      cpu_ops().conv2d_backward(dt, g, x.h(), w.h(), dy.h(), work.h(), dx.h(), dw.h(), with_bias ? db.h() : nullptr);
      cuda_ops().conv2d_backward(dt, g, x.d(), w.d(), dy.d(), work.d(), dx.d(), dw.d(), with_bias ? db.d() : nullptr);
      expect_close(dx, (what + " dx").c_str());
      expect_close(dw, (what + " dweight").c_str());
      expect_close(db, (what + " dbias").c_str());
    }
}

TEST(CudaOps, ConvolutionsMatchCpuTwin) {
  SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::fresh_seed("CudaOps.Conv"));
  conv_ops<float>(rng);
  conv_ops<double>(rng);
}

// bias_grad over many rows (two stages on the GPU: chunks of rows, then the chunks in order).
TEST(CudaOps, BiasGradOverManyRowsMatchesCpuTwin) {
  SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::fresh_seed("CudaOps.BiasGradOverManyRows"));
  for (const std::int64_t rows : {1, 127, 128, 129, 5000, 66000}) {  // 66000: chunks past 128 rows
    const std::int64_t cols = 77;
    Twin<float> dy(randn<float>(rng, std::size_t(rows * cols))), db(randn<float>(rng, std::size_t(cols)));
    cpu_ops().bias_grad(DType::F32, rows, cols, dy.h(), db.h());
    cuda_ops().bias_grad(DType::F32, rows, cols, dy.d(), db.d());
    expect_close(db, ("bias_grad rows " + std::to_string(rows)).c_str());
  }
}

}  // namespace
}  // namespace carnot
