// carnot_kernel_bench: each op of the CUDA table on DiT-XL/2's shapes at batch 64 (and the U-Net's
// convolution and GroupNorm), timed by CUDA events, against ceilings measured in the same run: a
// 1 GiB device-to-device copy (bytes read + written per second) for the memory-bound ops and
// 8192³ GEMMs through the table itself (fp32, and bf16 for the bf16 rows: the tensor-core GEMM,
// cuBLASLt's epilogues, the fused attention, cuDNN's convolutions, the fused adaLN) for the ones
// that multiply matrices. One JSON line per op: milliseconds, achieved GB/s or TFLOP/s, and the
// fraction of its ceiling. CARNOT_CUDA_PLAIN=1 times the plain kernels instead, for comparison.
//
// Bytes are what the op must move at the least (each input read once, each output written once);
// FLOPs count 2 per multiply-add. Built with CUDA (benchmarks/gpu/CMakeLists.txt); run on the GPU
// host by launch/gpu_host_checks.sh.
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "framework/core/device.h"
#include "framework/core/error.h"
#include "framework/core/tensor.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/cuda_runtime.h"
#include "kernels/cuda/gemm.cuh"

namespace carnot {
namespace {

// Device floats, filled with small values so no op overflows (the values do not matter to time).
Buffer floats(std::int64_t n) {
  Buffer b(DType::F32, Shape{n}, Device::kCuda);
  std::vector<float> host(std::size_t(std::min<std::int64_t>(n, 1 << 20)));
  for (std::size_t i = 0; i < host.size(); ++i) host[i] = 0.01f * float(i % 97) - 0.4f;
  for (std::int64_t at = 0; at < n; at += std::int64_t(host.size())) {
    const std::int64_t len = std::min<std::int64_t>(std::int64_t(host.size()), n - at);
    copy_bytes(b.data<float>() + at, Device::kCuda, host.data(), Device::kCpu, std::size_t(len) * sizeof(float));
  }
  return b;
}

// floats(n)'s values in dtype dt (bf16 rounds them).
Buffer values(std::int64_t n, DType dt) {
  Buffer x = floats(n);
  if (dt == DType::F32) return x;
  Buffer y(dt, Shape{n}, Device::kCuda);
  cuda_ops().convert(n, DType::F32, x.tensor().raw(), dt, y.tensor().raw(), false);
  return y;
}

struct Ceilings {
  double gb_per_s = 0, tflops = 0, bf16_tflops = 0;
};

// One row; FLOP rates against the fp32 GEMM ceiling, or the bf16 one for bf16 ops.
void report(const char* op, const std::string& shape, double ms, double bytes, double flops, const Ceilings& c,
            bool bf16 = false) {
  nlohmann::ordered_json row = {{"op", op}, {"shape", shape}, {"ms", ms}};
  if (flops > 0) {
    row["tflops"] = flops / ms / 1e9;
    row["of_gemm_ceiling"] = flops / ms / 1e9 / (bf16 ? c.bf16_tflops : c.tflops);
  } else {
    row["gb_per_s"] = bytes / ms / 1e6;
    row["of_copy_ceiling"] = bytes / ms / 1e6 / c.gb_per_s;
  }
  std::printf("%s\n", row.dump().c_str());
  std::fflush(stdout);
}

int run() {
  const DeviceChoice gpu = choose_device("cuda", 0);
  Ops& ops = cuda_ops();
  const DType f = DType::F32;
  const int reps = 20;
  Ceilings c;
  {
    const std::int64_t n = std::int64_t(1) << 28;  // 1 GiB of floats
    const Buffer a = floats(n), b(DType::F32, Shape{n}, Device::kCuda);
    const double ms = cuda::time_ms([&] { cuda::copy_device_to_device(b.tensor().raw(), a.tensor().raw(), 4 * n); }, reps);
    c.gb_per_s = 2.0 * 4 * double(n) / ms / 1e6;
    const std::int64_t m = 8192;
    const Buffer x = floats(m * m), y = floats(m * m), z(DType::F32, Shape{m * m}, Device::kCuda);
    const double gemm_ms = cuda::time_ms(
        [&] { ops.gemm(f, false, false, m, m, m, 1.0, x.tensor().raw(), m, y.tensor().raw(), m, 0.0, z.tensor().raw(), m); }, 5);
    c.tflops = 2.0 * double(m) * m * m / gemm_ms / 1e9;
    const Buffer xb = values(m * m, DType::BF16), yb = values(m * m, DType::BF16), zb = values(m * m, DType::BF16);
    const double bf16_ms = cuda::time_ms([&] {
      ops.gemm(DType::BF16, false, false, m, m, m, 1.0, xb.tensor().raw(), m, yb.tensor().raw(), m, 0.0,
               zb.tensor().raw(), m);
    }, 5);
    c.bf16_tflops = 2.0 * double(m) * m * m / bf16_ms / 1e9;
    std::printf("%s\n", nlohmann::ordered_json({{"device", gpu.description},
                                                {"copy_gb_per_s", c.gb_per_s},
                                                {"fp32_gemm_tflops", c.tflops},
                                                {"bf16_gemm_tflops", c.bf16_tflops}}).dump().c_str());
  }
  // DiT-XL/2 at batch 64: 256 tokens of width 1152, 16 heads of 72, MLP 4608, 675 M parameters.
  const std::int64_t B = 64, N = 256, C = 1152, H = 16, D = 72, rows = B * N, P = 675111184;
  const std::string tok = str_cat("[", rows, ", ", C, "]");
  for (const auto& [name, m, n, k] : {std::tuple{"gemm qkv", rows, 3 * C, C}, std::tuple{"gemm fc1", rows, 4 * C, C},
                                       std::tuple{"gemm fc2", rows, C, 4 * C}}) {
    const Buffer a = floats(m * k), w = floats(k * n), y(DType::F32, Shape{m * n}, Device::kCuda);
    const double ms = cuda::time_ms(
        [&] { ops.gemm(f, false, false, m, n, k, 1.0, a.tensor().raw(), k, w.tensor().raw(), n, 0.0, y.tensor().raw(), n); }, reps);
    report(name, str_cat("[", m, ", ", k, "] x [", k, ", ", n, "]"), ms, 0, 2.0 * double(m) * double(n) * double(k), c);
    const Buffer ab = values(m * k, DType::BF16), wb = values(k * n, DType::BF16), yb = values(m * n, DType::BF16);
    const double bf16_ms = cuda::time_ms([&] {
      ops.gemm(DType::BF16, false, false, m, n, k, 1.0, ab.tensor().raw(), k, wb.tensor().raw(), n, 0.0,
               yb.tensor().raw(), n);
    }, reps);
    report(name, str_cat("bf16 [", m, ", ", k, "] x [", k, ", ", n, "]"), bf16_ms, 0,
           2.0 * double(m) * double(n) * double(k), c, true);
  }
  {  // nn.Linear in bf16 with its epilogue (cuBLASLt's, where it takes the shape): against the GEMM rows above.
    const std::int64_t m = rows, k = C, n = 4 * C;
    const Buffer x = values(m * k, DType::BF16), w = values(n * k, DType::BF16), b = values(n, DType::BF16),
                 pre = values(m * n, DType::BF16), y = values(m * n, DType::BF16);
    for (const Epilogue e : {Epilogue::kBias, Epilogue::kBiasGelu})
      report(e == Epilogue::kBias ? "linear fc1 + bias" : "linear fc1 + bias + GELU",
             str_cat("bf16 [", m, ", ", k, "] x [", n, ", ", k, "]ᵀ"), cuda::time_ms([&] {
               ops.linear_forward(DType::BF16, m, k, n, x.tensor().raw(), w.tensor().raw(), b.tensor().raw(), e,
                                  pre.tensor().raw(), y.tensor().raw());
             }, reps), 0, 2.0 * double(m) * double(n) * double(k), c, true);
  }
  {  // fc2's input gradient through fc1's GELU, with fc1's bias gradient: cuBLASLt's DGELU epilogue and
     // our bias_grad (what the table runs), then cuBLASLt's fused DGELU_BGRAD. Against "gemm fc1" above.
    const std::int64_t m = rows, in = 4 * C, out = C;
    const Buffer dy = values(m * out, DType::BF16), w = values(out * in, DType::BF16), pre = values(m * in, DType::BF16),
                 dx = values(m * in, DType::BF16), db = values(in, DType::BF16);
    const std::string shape = str_cat("bf16 [", m, ", ", out, "] x [", out, ", ", in, "]");
    const double flops = 2.0 * double(m) * double(in) * double(out);
    report("linear_backward_input fc2, GELU' + bias grad", shape, cuda::time_ms([&] {
      ops.linear_backward_input(DType::BF16, m, in, out, dy.tensor().raw(), w.tensor().raw(), pre.tensor().raw(),
                                dx.tensor().raw(), db.tensor().raw());
    }, reps), 0, flops, c, true);
    if (std::getenv("CARNOT_CUDA_PLAIN") == nullptr)  // the library path itself: no plain twin to time
      report("linear_backward_input fc2, cuBLASLt DGELU_BGRAD", shape, cuda::time_ms([&] {
        cuda_kernels::linear_backward_input_bf16_lt(m, in, out, dy.tensor().raw(), w.tensor().raw(), pre.tensor().raw(),
                                                    dx.tensor().raw(), db.tensor().raw(),
                                                    cuda_kernels::LtBiasGrad::kEpilogue);
      }, reps), 0, flops, c, true);
  }
  {  // DiT's adaLN in bf16: LayerNorm + modulate fused, against the two ops in float32 below.
    const Buffer x = values(rows * C, DType::BF16), y = values(rows * C, DType::BF16), dy = values(rows * C, DType::BF16),
                 dx = values(rows * C, DType::BF16), mean = floats(rows), rstd = floats(rows),
                 mod = values(B * 6 * C, DType::BF16), dmod = values(B * 6 * C, DType::BF16);
    const double act = 2.0 * double(rows * C);
    const auto* shift = static_cast<const char*>(mod.tensor().raw());
    auto* dshift = static_cast<char*>(dmod.tensor().raw());
    const std::size_t z = 2 * std::size_t(C);
    report("layer_norm_modulate_forward", "bf16 " + tok, cuda::time_ms([&] {
      ops.layer_norm_modulate_forward(DType::BF16, B, N, C, 1e-6, x.tensor().raw(), shift, shift + z, 6 * C,
                                      y.tensor().raw(), mean.tensor().raw(), rstd.tensor().raw());
    }, reps), 2 * act, 0, c);
    report("layer_norm_modulate_backward", "bf16 " + tok + ", dx accumulated (DiT's)", cuda::time_ms([&] {
      ops.layer_norm_modulate_backward(DType::BF16, B, N, C, x.tensor().raw(), mean.tensor().raw(), rstd.tensor().raw(),
                                       shift + z, 6 * C, dy.tensor().raw(), dx.tensor().raw(), dshift, dshift + z, true);
    }, reps), 6 * act, 0, c);  // dx: x, dy, dx in, dx out; dshift, dscale: x, dy again
    // The rest of a DiT block's memory-bound ops in bf16 (kernels/cuda/bf16_rows.cu's vector paths).
    report("gated_residual_forward", "bf16 " + tok, cuda::time_ms([&] {
      ops.gated_residual_forward(DType::BF16, B, N, C, x.tensor().raw(), dy.tensor().raw(), shift + 2 * z, 6 * C,
                                 y.tensor().raw());
    }, reps), 3 * act, 0, c);
    report("gated_residual_backward", "bf16 " + tok, cuda::time_ms([&] {
      ops.gated_residual_backward(DType::BF16, B, N, C, x.tensor().raw(), shift + 2 * z, 6 * C, dy.tensor().raw(),
                                  dx.tensor().raw(), dshift + 2 * z);
    }, reps), 4 * act, 0, c);
    report("accumulate", "bf16 " + tok, cuda::time_ms([&] {
      ops.accumulate(DType::BF16, rows * C, x.tensor().raw(), y.tensor().raw());
    }, reps), 3 * act, 0, c);
    report("copy_blocks", "bf16 " + tok + ", one block", cuda::time_ms([&] {
      ops.copy_blocks(DType::BF16, 1, rows * C, x.tensor().raw(), 0, y.tensor().raw(), 0, false);
    }, reps), 2 * act, 0, c);
    const Buffer wide = values(rows * 4 * C, DType::BF16), wide_out = values(rows * 4 * C, DType::BF16);
    report("gelu_forward", str_cat("bf16 [", rows, ", ", 4 * C, "]"), cuda::time_ms([&] {
      ops.gelu_forward(DType::BF16, rows * 4 * C, wide.tensor().raw(), wide_out.tensor().raw());
    }, reps), 8 * act, 0, c);
  }
  {
    const Buffer x = floats(rows * C), y = floats(rows * C), dy = floats(rows * C), dx = floats(rows * C),
                 mean = floats(rows), rstd = floats(rows), mod = floats(B * 6 * C), dmod = floats(B * 6 * C);
    const double act = 4.0 * double(rows * C);
    report("layer_norm_forward", tok, cuda::time_ms([&] {
      ops.layer_norm_forward(f, rows, C, 1e-6, x.tensor().raw(), y.tensor().raw(), mean.tensor().raw(), rstd.tensor().raw());
    }, reps), 2 * act, 0, c);
    report("layer_norm_backward", tok, cuda::time_ms([&] {
      ops.layer_norm_backward(f, rows, C, x.tensor().raw(), mean.tensor().raw(), rstd.tensor().raw(), dy.tensor().raw(), dx.tensor().raw());
    }, reps), 3 * act, 0, c);
    const float* shift = mod.data<float>();
    report("modulate_forward", tok, cuda::time_ms([&] {
      ops.modulate_forward(f, B, N, C, x.tensor().raw(), shift, shift + C, 6 * C, y.tensor().raw());
    }, reps), 2 * act, 0, c);
    report("modulate_backward", tok, cuda::time_ms([&] {
      ops.modulate_backward(f, B, N, C, x.tensor().raw(), shift + C, 6 * C, dy.tensor().raw(), dx.tensor().raw(),
                            dmod.data<float>(), dmod.data<float>() + C);
    }, reps), 3 * act, 0, c);
    report("gated_residual_forward", tok, cuda::time_ms([&] {
      ops.gated_residual_forward(f, B, N, C, x.tensor().raw(), dy.tensor().raw(), shift + 2 * C, 6 * C, y.tensor().raw());
    }, reps), 3 * act, 0, c);
    report("add", tok, cuda::time_ms([&] {
      ops.add(f, rows * C, x.tensor().raw(), dy.tensor().raw(), y.tensor().raw());
    }, reps), 3 * act, 0, c);
  }
  {
    const std::int64_t n = rows * 4 * C;
    const Buffer x = floats(n), y = floats(n), dy = floats(n);
    const std::string shape = str_cat("[", rows, ", ", 4 * C, "]");
    report("gelu_forward", shape, cuda::time_ms([&] { ops.gelu_forward(f, n, x.tensor().raw(), y.tensor().raw()); }, reps),
           8.0 * double(n), 0, c);
    report("gelu_backward", shape, cuda::time_ms([&] {
      ops.gelu_backward(f, n, x.tensor().raw(), dy.tensor().raw(), y.tensor().raw());
    }, reps), 12.0 * double(n), 0, c);
  }
  // Attention: float32 (materialised probabilities) and bf16 (the fused kernels). FLOPs as
  // FlashAttention counts them: forward 4·N²·D per head (QKᵀ, PV), backward 2.5× that.
  for (const DType adt : {f, DType::BF16}) {
    const bool low = adt == DType::BF16;
    const Buffer qkv = values(rows * 3 * C, adt), lse(stats_dtype(adt), Shape{B * H * N}, Device::kCuda),
                 out = values(rows * C, adt), dout = values(rows * C, adt),
                 work(adt, Shape{attention_workspace_elements(N)}, Device::kCuda), dqkv = values(rows * 3 * C, adt);
    const double flops = 4.0 * double(B * H) * double(N * N) * double(D);
    const std::string shape = low ? "bf16, B 64, N 256, H 16, D 72" : "B 64, N 256, H 16, D 72";
    report("attention_forward", shape, cuda::time_ms([&] {
      ops.attention_forward(adt, B, N, H, D, qkv.tensor().raw(), work.tensor().raw(), lse.tensor().raw(),
                            out.tensor().raw());
    }, reps), 0, flops, c, low);
    report("attention_backward", shape, cuda::time_ms([&] {
      ops.attention_backward(adt, B, N, H, D, qkv.tensor().raw(), lse.tensor().raw(), out.tensor().raw(),
                             dout.tensor().raw(), work.tensor().raw(), dqkv.tensor().raw());
    }, reps), 0, 2.5 * flops, c, low);
  }
  {
    const Buffer p = floats(P), g = floats(P), m = floats(P), v = floats(P), e = floats(P);
    const std::string shape = str_cat("[", P, "]");
    report("adamw_step", shape, cuda::time_ms([&] {
      ops.adamw_step(P, p.data<float>(), g.data<float>(), m.data<float>(), v.data<float>(), 1e-12f, 0.9f, 0.999f, 1e-8f, 0.0f, 1);
    }, 5), 28.0 * double(P), 0, c);
    report("ema_update", shape, cuda::time_ms([&] { ops.ema_update(P, 0.9999f, p.data<float>(), e.data<float>()); }, 5),
           12.0 * double(P), 0, c);
    // The bf16 trainer's whole update in one kernel, clipping on: against the four ops above
    // (scale 8, AdamW 28, EMA 12, convert 6 bytes a parameter) it moves 42.
    const Buffer p16 = values(P, DType::BF16);
    report("adamw_ema_step", shape + ", clipped, EMA, bf16 copy", cuda::time_ms([&] {
      ops.adamw_ema_step(P, p.data<float>(), g.data<float>(), 0.999, m.data<float>(), v.data<float>(), 1e-12f, 0.9f,
                         0.999f, 1e-8f, 0.0f, 1, e.data<float>(), 0.9999f, p16.tensor().raw());
    }, 5), 42.0 * double(P), 0, c);
    report("sum_squares", shape, cuda::time_ms([&] { (void)ops.sum_squares(f, P, g.tensor().raw()); }, 5),
           4.0 * double(P), 0, c);
  }
  {
    const std::int64_t n = 4096, dim = 4096;  // latents of 4×32×32
    const Buffer x0 = floats(n * dim), t(DType::F32, Shape{n}, Device::kCuda), eps = floats(n * dim), xt = floats(n * dim),
                 dpred = floats(n * dim);
    std::vector<double> abar(1000, 0.5);
    Buffer abar_d(DType::F64, Shape{1000}, Device::kCuda);
    copy_bytes(abar_d.tensor().raw(), Device::kCuda, abar.data(), Device::kCpu, abar.size() * sizeof(double));
    const std::string shape = "[4096, 4096]";
    report("q_sample_eps", shape, cuda::time_ms([&] {
      ops.q_sample_eps(abar_d.data<double>(), 1000, 1, 0, 0, n, dim, x0.data<float>(), t.data<float>(), eps.data<float>(),
                       xt.data<float>());
    }, reps), 12.0 * double(n * dim), 0, c);
    report("mse_loss", shape, cuda::time_ms([&] {
      (void)ops.mse_loss(f, n, dim, xt.tensor().raw(), eps.tensor().raw(), nullptr, 1.0, dpred.tensor().raw());
    }, reps), 12.0 * double(n * dim), 0, c);
  }
  {
    // The DDPM U-Net's widest 3×3 convolution at 32×32, batch 64, and its GroupNorm.
    Conv2dShape g;
    g.batch = 64, g.cin = 128, g.cout = 128, g.h = 32, g.w = 32, g.k = 3, g.pad = 1;
    const Buffer x = floats(g.batch * g.cin * 1024), w = floats(g.cout * g.cin * 9), bias = floats(g.cout),
                 y = floats(g.batch * g.cout * 1024), ws(DType::F32, Shape{g.workspace_elements()}, Device::kCuda),
                 mean = floats(64 * 32), rstd = floats(64 * 32), gamma = floats(128), beta = floats(128);
    const double conv_flops = 2.0 * double(g.batch) * 1024 * double(g.cout) * double(g.cin) * 9;
    for (const DType cdt : {f, DType::BF16}) {  // cuDNN (float32 without TF32; bf16 on the tensor cores)
      const bool low = cdt == DType::BF16;
      const Buffer cx = values(g.batch * g.cin * 1024, cdt), cw = values(g.cout * g.cin * 9, cdt),
                   cb = values(g.cout, cdt), cy = values(g.batch * g.cout * 1024, cdt),
                   cdw = values(g.cout * g.cin * 9, cdt), cdb = values(g.cout, cdt),
                   cws(cdt, Shape{g.workspace_elements()}, Device::kCuda);
      const std::string shape = low ? "bf16 64×128×32×32, 3×3, 128 out" : "64×128×32×32, 3×3, 128 out";
      report("conv2d_forward", shape, cuda::time_ms([&] {
        ops.conv2d_forward(cdt, g, cx.tensor().raw(), cw.tensor().raw(), cb.tensor().raw(), cws.tensor().raw(),
                           cy.tensor().raw());
      }, reps), 0, conv_flops, c, low);
      report("conv2d_backward", shape, cuda::time_ms([&] {
        ops.conv2d_backward(cdt, g, cx.tensor().raw(), cw.tensor().raw(), cy.tensor().raw(), cws.tensor().raw(),
                            cx.tensor().raw(), cdw.tensor().raw(), cdb.tensor().raw());
      }, reps), 0, 2 * conv_flops, c, low);
    }
    report("group_norm_forward", "64×128×32×32, 32 groups", cuda::time_ms([&] {
      ops.group_norm_forward(f, 64, 128, 1024, 32, 1e-5, x.tensor().raw(), gamma.tensor().raw(), beta.tensor().raw(),
                             y.tensor().raw(), mean.tensor().raw(), rstd.tensor().raw());
    }, reps), 8.0 * double(64 * 128 * 1024), 0, c);
  }
  return 0;
}

}  // namespace
}  // namespace carnot

int main() {
  try {
    return carnot::run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "carnot_kernel_bench: %s\n", e.what());
    return 1;
  }
}
