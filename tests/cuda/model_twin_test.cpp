// Whole models on the GPU against the CPU: the MLP score network, a class-conditional DiT and a
// U-Net (attention, dropout, classes) built
// on cuda_ops() (parameters and activations in device buffers) and on cpu_ops() from the same seed
// start with the same weights, and give the same output and parameter gradients for the same inputs
// (‖gpu − cpu‖/‖cpu‖ ≤ 1e-12 in float64, 1e-5 in float32; bf16: see expect_image_model_matches).
// Skipped without a GPU.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <tuple>

#include "framework/core/device.h"
#include "framework/nn/dit.h"
#include "framework/nn/mlp_score_net.h"
#include "framework/nn/unet.h"
#include "kernels/cuda/cuda_ops.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

std::vector<double> to_host_f64(const Tensor& t) {
  Buffer host(t.dtype(), t.shape());
  copy_bytes(host.tensor(), t);
  std::vector<double> out(static_cast<std::size_t>(t.numel()));
  cpu_ops().convert(t.numel(), t.dtype(), host.tensor().raw(), DType::F64, out.data(), false);
  return out;
}

Buffer on(Device device, const Tensor& host) {
  Buffer b(host.dtype(), host.shape(), device);
  copy_bytes(b.tensor(), host);
  return b;
}

TEST(CudaModel, MlpForwardBackwardMatchCpu) {
  const DeviceChoice d = choose_device("auto", 0);
  if (!d.gpu) GTEST_SKIP() << "no usable GPU: " << d.description;
  const std::uint64_t seed = test::fresh_seed("CudaModel.Mlp");
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  for (const DType dt : {DType::F64, DType::F32})
    for (const bool relu_norm : {false, true}) {
      const double tol = dt == DType::F64 ? 1e-12 : 1e-5;
      MlpConfig c{3, 32, 3, 16};
      if (relu_norm) c.activation = MlpConfig::Activation::kRelu, c.layer_norm = true;
      const std::int64_t n = 41;
      MlpScoreNet cpu_net(c, dt, cpu_ops(), n, seed), gpu_net(c, dt, cuda_ops(), n, seed);
      ASSERT_EQ(gpu_net.params().values().device(), Device::kCuda);
      EXPECT_EQ(to_host_f64(gpu_net.params().values()), to_host_f64(cpu_net.params().values())) << "initial weights";

      Buffer x(dt, Shape{n, 3}), out(dt, Shape{n, 3}), dout(dt, Shape{n, 3}), t(DType::F32, Shape{n});
      for (std::int64_t i = 0; i < 3 * n; ++i) {
        const double xv = normal(rng), gv = normal(rng);
        if (dt == DType::F64) x.data<double>()[i] = xv, dout.data<double>()[i] = gv;
        else x.data<float>()[i] = float(xv), dout.data<float>()[i] = float(gv);
      }
      for (std::int64_t i = 0; i < n; ++i) t.data<float>()[i] = float(rng() % 1000);
      const Buffer xd = on(Device::kCuda, x.tensor()), td = on(Device::kCuda, t.tensor()),
                   doutd = on(Device::kCuda, dout.tensor());
      Buffer outd(dt, Shape{n, 3}, Device::kCuda);
      cpu_net.forward(x.tensor(), t.data<float>(), out.tensor());
      gpu_net.forward(xd.tensor(), td.data<float>(), outd.tensor());
      const std::vector<double> want = to_host_f64(out.tensor()), got = to_host_f64(outd.tensor());
      const char* what = relu_norm ? "relu + layer norm" : "silu";
      EXPECT_LT(test::rel_error(got, want, want.size()), tol) << "output, " << what << " " << dtype_name(dt);
      cpu_net.backward(dout.tensor());
      gpu_net.backward(doutd.tensor());
      const std::vector<double> gw = to_host_f64(cpu_net.params().grads()), gg = to_host_f64(gpu_net.params().grads());
      EXPECT_LT(test::rel_error(gg, gw, gw.size()), tol) << "parameter gradients, " << what << " " << dtype_name(dt);
    }
}

// Output and parameter gradients of a network on [n, D] inputs x, labels y and output gradient dout.
struct Pass {
  std::vector<double> out, grads;
};
Pass run_pass(ScoreNetwork& net, Device device, const Tensor& x, const Tensor& t, const std::vector<std::int64_t>& y,
              const Tensor& dout) {
  const Buffer xd = on(device, x), doutd = on(device, dout);
  Buffer outd(x.dtype(), dout.shape(), device);
  const Buffer yd(DType::F64, Shape{std::int64_t(y.size())}, device);  // 8-byte slots for the labels
  copy_bytes(yd.tensor().raw(), device, y.data(), Device::kCpu, y.size() * sizeof(std::int64_t));
  const Buffer td = on(device, t);
  net.forward(xd.tensor(), td.data<float>(), static_cast<const std::int64_t*>(yd.tensor().raw()), outd.tensor());
  net.backward(doutd.tensor(), Tensor());
  return {to_host_f64(outd.tensor()), to_host_f64(net.params().grads())};
}

// t's values widened to float64 (the same numbers, for a float64 reference on them).
Buffer widened(const Tensor& t) {
  Buffer w(DType::F64, t.shape());
  cpu_ops().convert(t.numel(), t.dtype(), t.raw(), DType::F64, w.tensor().raw(), false);
  return w;
}

// A network of either kind on both tables, every parameter drawn at random (adaLN-Zero's and DDPM's
// zeros would hide most paths), the same on both; inputs [n, D], outputs [n, O], labels y. In bf16
// the two tables round at different points (fused epilogues round once where the CPU rounds twice,
// the flash attention rounds P before P·V), so neither is the other's reference: both are compared
// with a float64 network `ref` on the same (bf16) numbers, and the GPU must be as accurate as the
// CPU oracle within a factor 2. A wrong kernel is off by O(1), the bf16 paths by O(2⁻⁸·depth).
void expect_image_model_matches(ScoreNetwork& cpu_net, ScoreNetwork& gpu_net, ScoreNetwork* ref, DType dt,
                                std::int64_t n, std::int64_t D, const std::vector<std::int64_t>& y, std::mt19937_64& rng,
                                const char* what) {
  const std::int64_t O = cpu_net.outputs();
  auto fill = [&](const Tensor& t, double scale) {
    const std::vector<double> v = test::randn(rng, std::size_t(t.numel()), scale);
    cpu_ops().convert(t.numel(), DType::F64, v.data(), dt, t.raw(), false);
  };
  fill(cpu_net.params().values(), 0.3);
  copy_bytes(gpu_net.params().values(), cpu_net.params().values());
  Buffer x(dt, Shape{n, D}), dout(dt, Shape{n, O}), t(DType::F32, Shape{n});
  fill(x.tensor(), 1.0);
  fill(dout.tensor(), 1.0);
  for (std::int64_t i = 0; i < n; ++i) t.data<float>()[i] = float(rng() % 1000);
  const Pass want = run_pass(cpu_net, Device::kCpu, x.tensor(), t.tensor(), y, dout.tensor());
  const Pass got = run_pass(gpu_net, Device::kCuda, x.tensor(), t.tensor(), y, dout.tensor());
  if (dt != DType::BF16) {
    const double tol = dt == DType::F64 ? 1e-12 : 1e-5;
    EXPECT_LT(test::rel_error(got.out, want.out, want.out.size()), tol) << what << " output " << dtype_name(dt);
    EXPECT_LT(test::rel_error(got.grads, want.grads, want.grads.size()), tol)
        << what << " parameter gradients " << dtype_name(dt);
    return;
  }
  ASSERT_NE(ref, nullptr);
  copy_bytes(ref->params().values(), widened(cpu_net.params().values()).tensor());
  const Pass exact = run_pass(*ref, Device::kCpu, widened(x.tensor()).tensor(), t.tensor(), y,
                              widened(dout.tensor()).tensor());
  for (const auto& [name, g, c, e] : {std::tuple{"output", &got.out, &want.out, &exact.out},
                                      std::tuple{"parameter gradients", &got.grads, &want.grads, &exact.grads}}) {
    const double gpu_err = test::rel_error(*g, *e, e->size()), cpu_err = test::rel_error(*c, *e, e->size());
    // The harness's own check: a reference that computed another function (another dropout mask,
    // say) would be O(1) from both and let any GPU result pass.
    EXPECT_LT(cpu_err, 0.25) << what << " bf16 " << name << ": the float64 reference disagrees with the CPU";
    EXPECT_LE(gpu_err, 2 * cpu_err) << what << " bf16 " << name << ": GPU vs float64 " << gpu_err << ", CPU vs float64 "
                                    << cpu_err;
    std::printf("%s bf16 %s: relative error vs float64, GPU %.3g, CPU %.3g\n", what, name, gpu_err, cpu_err);
  }
}

TEST(CudaModel, DitForwardBackwardMatchCpu) {
  const DeviceChoice d = choose_device("auto", 0);
  if (!d.gpu) GTEST_SKIP() << "no usable GPU: " << d.description;
  const std::uint64_t seed = test::fresh_seed("CudaModel.Dit");
  std::mt19937_64 rng(seed);
  DitConfig c;
  c.input_size = 8, c.patch = 2, c.in_channels = 2, c.hidden = 16, c.depth = 2, c.heads = 2;
  c.num_classes = 3, c.frequency_dim = 8;
  for (const DType dt : {DType::F64, DType::F32, DType::BF16}) {
    Dit cpu_net(c, dt, cpu_ops(), 5, seed), gpu_net(c, dt, cuda_ops(), 5, seed), ref(c, DType::F64, cpu_ops(), 5, seed);
    expect_image_model_matches(cpu_net, gpu_net, &ref, dt, 5, 2 * 8 * 8, {0, 1, 2, 3, 1}, rng, "DiT");  // 3: the null class
  }
}

TEST(CudaModel, UNetForwardBackwardMatchCpu) {
  const DeviceChoice d = choose_device("auto", 0);
  if (!d.gpu) GTEST_SKIP() << "no usable GPU: " << d.description;
  const std::uint64_t seed = test::fresh_seed("CudaModel.UNet");
  std::mt19937_64 rng(seed);
  UNetConfig c;
  c.sample_size = 8, c.in_channels = 2, c.channels = 8, c.channel_mult = {1, 2}, c.res_blocks = 1;
  c.attention_resolutions = {4}, c.groups = 4, c.dropout = 0.3, c.head_dim = 4;
  c.num_classes = 3, c.class_dropout = 0.1, c.learn_sigma = true;
  const DropoutKey key{seed, 7, 100, 0};
  for (const DType dt : {DType::F64, DType::F32, DType::BF16}) {
    UNet cpu_net(c, dt, cpu_ops(), 3, seed), gpu_net(c, dt, cuda_ops(), 3, seed), ref(c, DType::F64, cpu_ops(), 3, seed);
    for (UNet* net : {&cpu_net, &gpu_net, &ref}) net->set_dropout(&key);
    expect_image_model_matches(cpu_net, gpu_net, &ref, dt, 3, 2 * 8 * 8, {2, 0, 3}, rng, "U-Net");
  }
}

}  // namespace
}  // namespace carnot
