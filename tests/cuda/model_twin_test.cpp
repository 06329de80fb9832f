// Whole models on the GPU against the CPU: the MLP score network, a class-conditional DiT and a
// U-Net (attention, dropout, classes) built
// on cuda_ops() (parameters and activations in device buffers) and on cpu_ops() from the same seed
// start with the same weights, and give the same output and parameter gradients for the same inputs
// (‖gpu − cpu‖/‖cpu‖ ≤ 1e-12 in float64, 1e-5 in float32). Skipped without a GPU.
#include <gtest/gtest.h>

#include <random>

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

// A network of either kind on both tables, every parameter drawn at random (adaLN-Zero's and DDPM's
// zeros would hide most paths), the same on both; inputs [n, D], outputs [n, O], labels y.
void expect_image_model_matches(ScoreNetwork& cpu_net, ScoreNetwork& gpu_net, DType dt, std::int64_t n, std::int64_t D,
                                const std::vector<std::int64_t>& y, std::mt19937_64& rng, const char* what) {
  // bf16: the GPU's GEMM rounds once from its own float32 sums, the CPU's from another order.
  const double tol = dt == DType::F64 ? 1e-12 : dt == DType::F32 ? 1e-5 : 1e-2;
  const std::int64_t O = cpu_net.outputs();
  auto fill = [&](const Tensor& t, double scale) {
    const std::vector<double> v = test::randn(rng, std::size_t(t.numel()), scale);
    cpu_ops().convert(t.numel(), DType::F64, v.data(), dt, t.raw(), false);
  };
  fill(cpu_net.params().values(), 0.3);
  copy_bytes(gpu_net.params().values(), cpu_net.params().values());
  Buffer x(dt, Shape{n, D}), out(dt, Shape{n, O}), dout(dt, Shape{n, O}), t(DType::F32, Shape{n});
  fill(x.tensor(), 1.0);
  fill(dout.tensor(), 1.0);
  for (std::int64_t i = 0; i < n; ++i) t.data<float>()[i] = float(rng() % 1000);
  const Buffer ydev(DType::F64, Shape{n}, Device::kCuda);  // 8-byte slots for the labels
  copy_bytes(ydev.tensor().raw(), Device::kCuda, y.data(), Device::kCpu, y.size() * sizeof(std::int64_t));
  const std::int64_t* yd = static_cast<const std::int64_t*>(ydev.tensor().raw());
  const Buffer xd = on(Device::kCuda, x.tensor()), td = on(Device::kCuda, t.tensor()), doutd = on(Device::kCuda, dout.tensor());
  Buffer outd(dt, Shape{n, O}, Device::kCuda);
  cpu_net.forward(x.tensor(), t.data<float>(), y.data(), out.tensor());
  gpu_net.forward(xd.tensor(), td.data<float>(), yd, outd.tensor());
  const std::vector<double> want = to_host_f64(out.tensor()), got = to_host_f64(outd.tensor());
  EXPECT_LT(test::rel_error(got, want, want.size()), tol) << what << " output " << dtype_name(dt);
  cpu_net.backward(dout.tensor(), Tensor());
  gpu_net.backward(doutd.tensor(), Tensor());
  const std::vector<double> gw = to_host_f64(cpu_net.params().grads()), gg = to_host_f64(gpu_net.params().grads());
  EXPECT_LT(test::rel_error(gg, gw, gw.size()), tol) << what << " parameter gradients " << dtype_name(dt);
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
    Dit cpu_net(c, dt, cpu_ops(), 5, seed), gpu_net(c, dt, cuda_ops(), 5, seed);
    expect_image_model_matches(cpu_net, gpu_net, dt, 5, 2 * 8 * 8, {0, 1, 2, 3, 1}, rng, "DiT");  // 3: the null class
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
    UNet cpu_net(c, dt, cpu_ops(), 3, seed), gpu_net(c, dt, cuda_ops(), 3, seed);
    cpu_net.set_dropout(&key);
    gpu_net.set_dropout(&key);
    expect_image_model_matches(cpu_net, gpu_net, dt, 3, 2 * 8 * 8, {2, 0, 3}, rng, "U-Net");
  }
}

}  // namespace
}  // namespace carnot
