// The CUDA op table's bf16 against the CPU's (kernels/bf16_widening.h: float32 arithmetic from bf16
// inputs, each output rounded once) to ‖gpu − cpu‖/‖cpu‖ ≤ 1e-2: the tensor-core GEMM and cuBLASLt's
// fused epilogues, the fused attention, cuDNN's convolutions, the native elementwise, norm and
// layout kernels; conversions bitwise. Fresh random inputs, the seed logged; skipped without a GPU.
#include <gtest/gtest.h>

#include <random>
#include <tuple>

#include "framework/core/error.h"
#include "kernels/bf16.h"
#include "kernels/cuda/cuda_ops.h"
#include "tests/cuda/twin.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

using namespace twin;


// bf16 convolutions: cuDNN on the tensor cores (float32 accumulation), and float32 copies through
// im2col where cuDNN declines (DDPM's end-padded down-sampling), against the CPU's bf16; the
// gradients bitwise repeatable (deterministic algorithms only).
TEST(CudaOps, Bf16ConvolutionsMatchCpuTwin) {
  SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::fresh_seed("CudaOps.Bf16Conv"));
  const DType dt = DType::BF16;
  const Conv2dShape shapes[] = {{2, 3, 9, 8, 5, 3, 1, 1, 0}, {2, 4, 8, 8, 4, 3, 2, 0, 1}, {3, 6, 5, 7, 4, 1, 1, 0, 0},
                                {2, 4, 8, 8, 16, 2, 2, 0, 0}, {4, 32, 16, 16, 64, 3, 1, 1, 0}};
  for (const Conv2dShape& g : shapes) {
    SCOPED_TRACE(str_cat("conv k", g.k, " s", g.stride, " ", g.cin, "→", g.cout, g.pad_end_extra ? " end-padded" : ""));
    const std::int64_t nx = g.batch * g.cin * g.h * g.w, ny = g.batch * g.cout * g.out_h() * g.out_w();
    const std::int64_t nw = g.cout * g.cin * g.k * g.k;
    const std::vector<std::uint16_t> dw0 = bf16_randn(rng, std::size_t(nw)), db0 = bf16_randn(rng, std::size_t(g.cout));
    Twin<std::uint16_t> x(bf16_randn(rng, std::size_t(nx))), w(bf16_randn(rng, std::size_t(nw))),
        b(bf16_randn(rng, std::size_t(g.cout))), y(bf16_randn(rng, std::size_t(ny))), dy(bf16_randn(rng, std::size_t(ny))),
        dx(bf16_randn(rng, std::size_t(nx))), dw(dw0), db(db0), dw2(dw0), db2(db0),
        work(bf16_randn(rng, std::size_t(g.workspace_elements())));
    cpu_ops().conv2d_forward(dt, g, x.h(), w.h(), b.h(), work.h(), y.h());
    cuda_ops().conv2d_forward(dt, g, x.d(), w.d(), b.d(), work.d(), y.d());
    expect_close_bf16(y, "conv2d_forward y");
    cpu_ops().conv2d_backward(dt, g, x.h(), w.h(), dy.h(), work.h(), dx.h(), dw.h(), db.h());
    cuda_ops().conv2d_backward(dt, g, x.d(), w.d(), dy.d(), work.d(), dx.d(), dw.d(), db.d());
    expect_close_bf16(dx, "conv2d_backward dx");
    expect_close_bf16(dw, "conv2d_backward dweight (accumulated)");
    expect_close_bf16(db, "conv2d_backward dbias (accumulated)");
    cuda_ops().conv2d_backward(dt, g, x.d(), w.d(), dy.d(), work.d(), nullptr, dw2.d(), db2.d());
    EXPECT_EQ(dw2.from_device(), dw.from_device()) << "conv2d_backward dweight is not bitwise repeatable";
    EXPECT_EQ(db2.from_device(), db.from_device());
  }
}


// nn.Linear's fused forward (cuBLASLt's bias and bias + GELU epilogues on bf16, the unfused ops
// where cuBLASLt declines a shape) against the CPU's gemm, add_bias and gelu_forward, and its input
// gradient through the GELU below (DGELU_BGRAD) against gemm, gelu_backward and bias_grad.
TEST(CudaOps, Bf16LinearEpiloguesMatchCpuTwin) {
  SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::fresh_seed("CudaOps.Bf16Linear"));
  const DType dt = DType::BF16;
  for (const auto& [rows, in, out] : {std::tuple<std::int64_t, std::int64_t, std::int64_t>{300, 64, 256},
                                      {1024, 384, 1536}, {37, 20, 36}}) {
    for (const Epilogue e : {Epilogue::kBias, Epilogue::kBiasGelu}) {
      SCOPED_TRACE(str_cat(rows, "×", in, " → ", out, e == Epilogue::kBias ? " + bias" : " + bias, GELU"));
      Twin<std::uint16_t> x(bf16_randn(rng, std::size_t(rows * in))), w(bf16_randn(rng, std::size_t(out * in))),
          bias(bf16_randn(rng, std::size_t(out))), pre(bf16_randn(rng, std::size_t(rows * out))),
          y(bf16_randn(rng, std::size_t(rows * out)));
      cpu_ops().linear_forward(dt, rows, in, out, x.h(), w.h(), bias.h(), e, pre.h(), y.h());
      cuda_ops().linear_forward(dt, rows, in, out, x.d(), w.d(), bias.d(), e, pre.d(), y.d());
      expect_close_bf16(y, "linear_forward y");
      if (e == Epilogue::kBiasGelu) expect_close_bf16(pre, "linear_forward pre-activation");
    }
    // Backward through the GELU below (DGELU_BGRAD): dx = (dy W) ⊙ GELU'(pre), the bias gradient added.
    Twin<std::uint16_t> dy(bf16_randn(rng, std::size_t(rows * out))), w(bf16_randn(rng, std::size_t(out * in))),
        pre(bf16_randn(rng, std::size_t(rows * in))), dx(bf16_randn(rng, std::size_t(rows * in))),
        db(bf16_randn(rng, std::size_t(in)));
    for (const bool with_bias : {false, true}) {
      SCOPED_TRACE(str_cat(rows, "×", out, " → ", in, with_bias ? " through GELU, bias gradient" : " through GELU"));
      cpu_ops().linear_backward_input(dt, rows, in, out, dy.h(), w.h(), pre.h(), dx.h(), with_bias ? db.h() : nullptr);
      cuda_ops().linear_backward_input(dt, rows, in, out, dy.d(), w.d(), pre.d(), dx.d(), with_bias ? db.d() : nullptr);
      expect_close_bf16(dx, "linear_backward_input dx");
      expect_close_bf16(db, "linear_backward_input dbias (accumulated)");
    }
  }
}

// bf16 attention: the fused kernels (flash_attention.cu: DiT's head dims 64 and 72, full and partial
// 64-token tiles) and the materialised path (a head dim they do not take) against the CPU's bf16
// (float32 arithmetic, P and dS unrounded) to ≤1e-2; lse (float32) to 1e-4; backward bitwise repeatable.
TEST(CudaOps, Bf16AttentionMatchesCpuTwin) {
  SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::fresh_seed("CudaOps.Bf16Attention"));
  const DType dt = DType::BF16;
  Ops& gpu = cuda_ops();
  Ops& cpu = cpu_ops();
  struct Case {
    std::int64_t batch, tokens, heads, head_dim;
    const char* path;
  };
  for (const Case& a : {Case{4, 64, 4, 72, "fused, one tile"}, Case{3, 100, 2, 64, "fused, a partial tile"},
                        Case{2, 256, 3, 72, "fused, four tiles (DiT-XL/2's N)"}, Case{1, 17, 1, 128, "fused, D 128"},
                        Case{2, 33, 3, 8, "fused, D 8"},
                        Case{2, 37, 2, 20, "materialised (head dim 20)"}}) {
    SCOPED_TRACE(a.path);
    const std::int64_t B = a.batch, N = a.tokens, H = a.heads, D = a.head_dim, C = H * D;
    Twin<std::uint16_t> qkv(bf16_randn(rng, std::size_t(B * N * 3 * C))), out(bf16_randn(rng, std::size_t(B * N * C))),
        dout(bf16_randn(rng, std::size_t(B * N * C))), dqkv(bf16_randn(rng, std::size_t(B * N * 3 * C))),
        work(bf16_randn(rng, std::size_t(attention_workspace_elements(N))));
    Twin<float> lse(zeros<float>(B * H * N));
    cpu.attention_forward(dt, B, N, H, D, qkv.h(), work.h(), lse.h(), out.h());
    gpu.attention_forward(dt, B, N, H, D, qkv.d(), work.d(), lse.d(), out.d());
    expect_close_bf16(out, "attention_forward out");
    expect_close(lse, "attention_forward lse (float32)", 1e-4);
    cpu.attention_backward(dt, B, N, H, D, qkv.h(), lse.h(), out.h(), dout.h(), work.h(), dqkv.h());
    gpu.attention_backward(dt, B, N, H, D, qkv.d(), lse.d(), out.d(), dout.d(), work.d(), dqkv.d());
    expect_close_bf16(dqkv, "attention_backward dqkv");
    const std::vector<std::uint16_t> first = dqkv.from_device();
    gpu.attention_backward(dt, B, N, H, D, qkv.d(), lse.d(), out.d(), dout.d(), work.d(), dqkv.d());
    EXPECT_EQ(dqkv.from_device(), first) << "attention_backward is not bitwise repeatable";
  }
}

TEST(CudaOps, Bf16MatchesCpuTwin) {
  SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::fresh_seed("CudaOps.Bf16"));
  const DType dt = DType::BF16;
  Ops& gpu = cuda_ops();
  Ops& cpu = cpu_ops();
  const std::int64_t m = 129, n = 77, k = 300;
  for (const bool ta : {false, true})
    for (const bool tb : {false, true}) {
      Twin<std::uint16_t> a(bf16_randn(rng, std::size_t(m * k))), b(bf16_randn(rng, std::size_t(k * n))),
          c(bf16_randn(rng, std::size_t(m * n)));
      cpu.gemm(dt, ta, tb, m, n, k, 0.5, a.h(), ta ? m : k, b.h(), tb ? k : n, 1.0, c.h(), n);
      gpu.gemm(dt, ta, tb, m, n, k, 0.5, a.d(), ta ? m : k, b.d(), tb ? k : n, 1.0, c.d(), n);
      expect_close_bf16(c, ta ? (tb ? "gemm TT" : "gemm TN") : (tb ? "gemm NT" : "gemm NN"));
    }
  const std::int64_t B = 4, N = 64, H = 4, D = 72, C = H * D;
  Twin<std::uint16_t> y(bf16_randn(rng, std::size_t(B * N * C))), out(bf16_randn(rng, std::size_t(B * N * C)));
  Twin<float> mean(zeros<float>(B * N)), rstd(zeros<float>(B * N));
  Twin<std::uint16_t> x(bf16_randn(rng, std::size_t(B * N * C)));  // the same input on both sides
  cpu.layer_norm_forward(dt, B * N, C, 1e-6, x.h(), y.h(), mean.h(), rstd.h());
  gpu.layer_norm_forward(dt, B * N, C, 1e-6, x.d(), y.d(), mean.d(), rstd.d());
  expect_close_bf16(y, "layer_norm y");
  expect_close(rstd, "layer_norm rstd (float32 under bf16)");
  {  // the fused adaLN in bf16, dshift and dscale interleaved in one [B, 6C]
    Twin<std::uint16_t> m(bf16_randn(rng, std::size_t(B * 6 * C))), dm(bf16_randn(rng, std::size_t(B * 6 * C))),
        g(bf16_randn(rng, std::size_t(B * N * C))), dxa(bf16_randn(rng, std::size_t(B * N * C)));
    for (Ops* o : {&cpu, &gpu}) {
      const bool on_gpu = o == &gpu;
      auto p = [&](Twin<std::uint16_t>& t) { return on_gpu ? t.d() : t.h(); };
      float* mu = on_gpu ? mean.d() : mean.h();
      float* rs = on_gpu ? rstd.d() : rstd.h();
      o->layer_norm_modulate_forward(dt, B, N, C, 1e-6, p(x), p(m), p(m) + C, 6 * C, p(y), mu, rs);
      o->layer_norm_modulate_backward(dt, B, N, C, p(x), mu, rs, p(m) + C, 6 * C, p(g), p(dxa), p(dm), p(dm) + C,
                                      false);
    }
    expect_close_bf16(y, "layer_norm_modulate_forward y");
    expect_close_bf16(dxa, "layer_norm_modulate_backward dx");
    expect_close_bf16(dm, "layer_norm_modulate_backward dshift, dscale");
  }
  // The native bf16 kernels of the elementwise ops and adaLN (dshift and dscale interleaved in one [B, 6C]).
  Twin<std::uint16_t> mod(bf16_randn(rng, std::size_t(B * 6 * C))), dmod(bf16_randn(rng, std::size_t(B * 6 * C))),
      dy(bf16_randn(rng, std::size_t(B * N * C))), dx(bf16_randn(rng, std::size_t(B * N * C))),
      bias(bf16_randn(rng, std::size_t(C)));
  for (Ops* o : {&cpu, &gpu}) {
    const bool on_gpu = o == &gpu;
    auto p = [&](Twin<std::uint16_t>& t) { return on_gpu ? t.d() : t.h(); };
    o->gelu_backward(dt, B * N * C, p(x), p(dy), p(dx));
    o->add_bias(dt, B * N, C, p(bias), p(dx));
    o->bias_grad(dt, B * N, C, p(dy), p(bias));
    o->modulate_backward(dt, B, N, C, p(x), p(mod) + C, 6 * C, p(dy), p(y), p(dmod), p(dmod) + C);
    o->gated_residual_backward(dt, B, N, C, p(x), p(mod) + 2 * C, 6 * C, p(dy), p(out), p(dmod) + 2 * C);
  }
  expect_close_bf16(dx, "gelu_backward + add_bias");
  expect_close_bf16(bias, "bias_grad");
  expect_close_bf16(y, "modulate_backward dx");
  expect_close_bf16(dmod, "modulate_backward dshift, dscale; gated_residual_backward dgate");
  expect_close_bf16(out, "gated_residual_backward dh");
  // Moves, embeddings and time features in bf16 (exact moves; sums and sin/cos rounded once).
  {
    Twin<std::uint16_t> moved(std::vector<std::uint16_t>(std::size_t(B * N * C))),
        table(bf16_randn(rng, std::size_t(5 * C))), emb(std::vector<std::uint16_t>(std::size_t(B * C))),
        temb(std::vector<std::uint16_t>(std::size_t(B * C)));
    Twin<std::int64_t> ids(std::vector<std::int64_t>{4, 0, 4, 2});
    Twin<float> tt(std::vector<float>{3.0f, 999.0f, 0.0f, 517.0f});
    for (Ops* o : {&cpu, &gpu}) {
      const bool on_gpu = o == &gpu;
      auto p = [&](auto& t) { return on_gpu ? t.d() : t.h(); };
      o->transpose_batched(dt, B, N, C, p(x), p(moved));
      o->copy_blocks(dt, B * N, C / 2, p(dy), C, p(moved), C, true);
      o->embedding_forward(dt, B, C, p(table), 5, p(ids), p(emb));
      o->embedding_backward(dt, B, C, p(ids), p(emb), p(table), 5);
      o->timestep_embedding(dt, B, C, p(tt), SinusoidStyle{}, p(temb));
    }
    expect_close_bf16(moved, "transpose_batched + copy_blocks accumulating");
    EXPECT_EQ(emb.from_device(), emb.host) << "embedding_forward moves bf16 exactly";
    expect_close_bf16(table, "embedding_backward");
    expect_close_bf16(temb, "timestep_embedding");
  }
  Twin<float> wide(zeros<float>(B * N * C));
  cpu.convert(B * N * C, dt, y.h(), DType::F32, wide.h(), false);
  gpu.convert(B * N * C, dt, y.d(), DType::F32, wide.d(), false);
  Twin<std::uint16_t> back(std::vector<std::uint16_t>(std::size_t(B * N * C)));
  cpu.convert(B * N * C, DType::F32, wide.h(), dt, back.h(), false);
  gpu.convert(B * N * C, DType::F32, wide.d(), dt, back.d(), false);
  EXPECT_EQ(back.from_device(), back.host) << "convert is exact both ways on bf16 values";
}

// The U-Net's ops in bf16 (GroupNorm with float32 statistics, per-plane broadcast and sum,
// up-sampling, dropout with its mask) against the CPU's bf16; dropout's masks bitwise.
TEST(CudaOps, Bf16UNetOpsMatchCpuTwin) {
  SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::fresh_seed("CudaOps.Bf16UNet"));
  const DType dt = DType::BF16;
  Ops& gpu = cuda_ops();
  Ops& cpu = cpu_ops();
  const std::int64_t B = 3, C = 16, HW = 64, G = 4, n = B * C * HW;
  for (const bool affine : {false, true}) {
    SCOPED_TRACE(affine ? "GroupNorm with γ, β" : "GroupNorm without affine");
    Twin<std::uint16_t> x(bf16_randn(rng, std::size_t(n))), gamma(bf16_randn(rng, std::size_t(C))),
        beta(bf16_randn(rng, std::size_t(C))), y(bf16_randn(rng, std::size_t(n))), dy(bf16_randn(rng, std::size_t(n))),
        dx(bf16_randn(rng, std::size_t(n))), dgamma(bf16_randn(rng, std::size_t(C))), dbeta(bf16_randn(rng, std::size_t(C)));
    Twin<float> mean(zeros<float>(B * G)), rstd(zeros<float>(B * G));
    for (Ops* o : {&cpu, &gpu}) {
      const bool on_gpu = o == &gpu;
      auto p = [&](auto& t) { return on_gpu ? t.d() : t.h(); };
      o->group_norm_forward(dt, B, C, HW, G, 1e-5, p(x), affine ? p(gamma) : nullptr, affine ? p(beta) : nullptr, p(y),
                            p(mean), p(rstd));
      o->group_norm_backward(dt, B, C, HW, G, p(x), affine ? p(gamma) : nullptr, p(mean), p(rstd), p(dy), p(dx),
                             affine ? p(dgamma) : nullptr, affine ? p(dbeta) : nullptr);
    }
    expect_close_bf16(y, "group_norm_forward y");
    expect_close(rstd, "group_norm_forward rstd (float32)", 1e-4);
    expect_close_bf16(dx, "group_norm_backward dx");
    expect_close_bf16(dgamma, "group_norm_backward dgamma (accumulated)");
    expect_close_bf16(dbeta, "group_norm_backward dbeta (accumulated)");
  }
  Twin<std::uint16_t> v(bf16_randn(rng, std::size_t(B * C))), y(bf16_randn(rng, std::size_t(n))),
      dv(bf16_randn(rng, std::size_t(B * C))), up(bf16_randn(rng, std::size_t(4 * n))),
      down(bf16_randn(rng, std::size_t(n))), dropped(bf16_randn(rng, std::size_t(n))), mask(bf16_randn(rng, std::size_t(n))),
      back(bf16_randn(rng, std::size_t(n)));
  const DropoutKey key{test::fresh_seed("CudaOps.Bf16UNet.dropout"), 3, 17, 5};
  for (Ops* o : {&cpu, &gpu}) {
    const bool on_gpu = o == &gpu;
    auto p = [&](auto& t) { return on_gpu ? t.d() : t.h(); };
    o->add_per_plane(dt, B * C, HW, p(v), p(y));
    o->sum_per_plane(dt, B * C, HW, p(y), p(dv));
    o->upsample2x_forward(dt, B * C, 8, 8, p(y), p(up));
    o->upsample2x_backward(dt, B * C, 8, 8, p(up), p(down));
    o->dropout_forward(dt, B * C, HW, 0.3, key, p(y), p(dropped), p(mask));
    o->dropout_backward(dt, n, p(mask), p(dropped), p(back));
  }
  expect_close_bf16(y, "add_per_plane");
  expect_close_bf16(dv, "sum_per_plane");
  expect_close_bf16(up, "upsample2x_forward");
  expect_close_bf16(down, "upsample2x_backward");
  EXPECT_EQ(mask.from_device(), mask.host) << "dropout masks differ";
  expect_close_bf16(dropped, "dropout_forward");
  expect_close_bf16(back, "dropout_backward");
}

// DiT's memory-bound ops on their vectorised bf16 paths (kernels/cuda/bf16_rows.cu: 16-byte
// accesses, adaLN one warp a row) and on the general kernels where a shape or a pointer does not
// fit them: rows of 1152 (DiT-XL/2: five vectors a lane), 2048 (the widest warp row), 2056 (too
// wide), 36 (not a multiple of 8; the adaLN chunks then misaligned), and every pointer one value
// off its 16-byte boundary.
TEST(CudaOps, Bf16VectorPathsAndTheirFallbacksMatchCpuTwin) {
  SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::fresh_seed("CudaOps.Bf16VectorPaths"));
  Ops& gpu = cuda_ops();
  Ops& cpu = cpu_ops();
  const DType dt = DType::BF16;
  for (const std::int64_t C : {1152, 2048, 2056, 36})
    for (const std::int64_t off : {0, 1}) {
      SCOPED_TRACE("row width " + std::to_string(C) + ", pointers " + std::to_string(off) + " value(s) off");
      const std::int64_t B = 3, N = 5, R = B * N;
      auto fresh = [&](std::int64_t n) { return Twin<std::uint16_t>(bf16_randn(rng, std::size_t(n + off))); };
      Twin<std::uint16_t> x = fresh(R * C), y = fresh(R * C), h = fresh(R * C), dy = fresh(R * C), dx = fresh(R * C),
                          mod = fresh(B * 6 * C), dmod = fresh(B * 6 * C), acc = fresh(R * C), moved = fresh(R * C),
                          res = fresh(R * C);
      Twin<float> mean(zeros<float>(R)), rstd(zeros<float>(R));
      for (Ops* o : {&cpu, &gpu}) {
        const bool on_gpu = o == &gpu;
        auto p = [&](Twin<std::uint16_t>& t) { return (on_gpu ? t.d() : t.h()) + off; };
        float* mu = on_gpu ? mean.d() : mean.h();
        float* rs = on_gpu ? rstd.d() : rstd.h();
        o->layer_norm_modulate_forward(dt, B, N, C, 1e-6, p(x), p(mod), p(mod) + C, 6 * C, p(y), mu, rs);
        o->layer_norm_modulate_backward(dt, B, N, C, p(x), mu, rs, p(mod) + C, 6 * C, p(dy), p(dx), p(dmod),
                                        p(dmod) + C, true);  // into what dx holds, as DiT's residual stream
        o->gated_residual_forward(dt, B, N, C, p(y), p(h), p(mod) + 2 * C, 6 * C, p(res));  // out of place
        o->gated_residual_backward(dt, B, N, C, p(h), p(mod) + 5 * C, 6 * C, p(dy), p(dy), p(dmod) + 5 * C);
        o->gelu_forward(dt, R * C, p(x), p(h));
        o->accumulate(dt, R * C, p(h), p(acc));
        o->copy_blocks(dt, 1, R * C, p(acc), 0, p(moved), 0, false);        // one contiguous copy
        o->copy_blocks(dt, R, C / 2, p(x), C, p(moved) + C / 4, C, false);  // strided copies
        o->copy_blocks(dt, R, C / 2, p(h), C, p(moved) + C / 2, C, true);   // strided sums
      }
      expect_close_bf16(y, "layer_norm_modulate_forward");
      expect_close_bf16(res, "gated_residual_forward");
      expect_close(rstd, "layer_norm_modulate_forward rstd (float32 under bf16)", 1e-4);
      expect_close_bf16(dx, "layer_norm_modulate_backward dx (accumulated)");
      expect_close_bf16(dmod, "layer_norm_modulate_backward dshift, dscale; gated_residual_backward dgate");
      expect_close_bf16(dy, "gated_residual_backward dh (in place)");
      expect_close_bf16(h, "gelu_forward");
      expect_close_bf16(acc, "accumulate");
      expect_close_bf16(moved, "copy_blocks");
    }
}

// bias_grad in bf16: the 16-byte path (widths multiples of 8, aligned) and the general one, over
// few rows and over enough rows (66000 > 128 · 512) that the chunks grow past 128 rows.
TEST(CudaOps, Bf16BiasGradMatchesCpuTwin) {
  SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::fresh_seed("CudaOps.Bf16BiasGrad"));
  for (const std::int64_t cols : {264, 36})
    for (const std::int64_t rows : {15, 66000})
      for (const std::int64_t off : {0, 1}) {
        SCOPED_TRACE(std::to_string(rows) + " rows of " + std::to_string(cols) + ", pointers " + std::to_string(off) +
                     " value(s) off");
        Twin<std::uint16_t> dy(bf16_randn(rng, std::size_t(rows * cols + off))),
            db(bf16_randn(rng, std::size_t(cols + off)));
        cpu_ops().bias_grad(DType::BF16, rows, cols, dy.h() + off, db.h() + off);
        cuda_ops().bias_grad(DType::BF16, rows, cols, dy.d() + off, db.d() + off);
        expect_close_bf16(db, "bias_grad");
      }
}

}  // namespace
}  // namespace carnot
