// The op table's q_sample on the GPU against its CPU twin, on fresh random inputs: the same t
// (integer arithmetic on the same Philox words) and ε, x_t to float rounding. Skipped with a
// message when no GPU is usable (no device, or no driver as on the build machines).
#include <gtest/gtest.h>

#include <random>

#include "framework/core/device.h"
#include "framework/core/tensor.h"
#include "framework/diffusion/schedule.h"
#include "kernels/cuda/cuda_ops.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

template <class T> Buffer on_device(const std::vector<T>& host) {
  Buffer b(dtype_of<T>(), Shape{std::int64_t(host.size())}, Device::kCuda);
  copy_bytes(b.tensor().raw(), Device::kCuda, host.data(), Device::kCpu, host.size() * sizeof(T));
  return b;
}

std::vector<float> to_host(const Buffer& b) {
  std::vector<float> out(std::size_t(b.numel()));
  copy_bytes(out.data(), Device::kCpu, b.tensor().raw(), Device::kCuda, out.size() * sizeof(float));
  return out;
}

TEST(CudaQSample, MatchesCpuTwin) {
  const DeviceChoice gpu = choose_device("auto", 0);
  if (!gpu.gpu) GTEST_SKIP() << "no usable GPU: " << gpu.description;
  std::printf("running on %s\n", gpu.description.c_str());

  const std::uint64_t seed = test::fresh_seed("CudaQSample.MatchesCpuTwin");
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  for (const auto& [steps, dim, n] :
       {std::tuple{1000, 2, 4099}, std::tuple{37, 7, 1000}, std::tuple{1000, 1026, 40}}) {  // 1026: a thread per 4 values
    const NoiseSchedule s = NoiseSchedule::cosine(steps);
    std::vector<float> x0(std::size_t(n * dim));
    for (float& v : x0) v = normal(rng);
    std::vector<float> t_cpu(static_cast<std::size_t>(n)), eps_cpu(x0.size()), xt_cpu(x0.size());
    const std::uint32_t step = std::uint32_t(rng() % 100000), first = std::uint32_t(rng() % 1000000);
    cpu_ops().q_sample_eps(s.alphas_cumprod.data(), steps, seed, step, first, n, dim, x0.data(), t_cpu.data(),
                           eps_cpu.data(), xt_cpu.data());
    const Buffer abar = on_device(s.alphas_cumprod), x0_d = on_device(x0);
    const Buffer t_d(DType::F32, Shape{n}, Device::kCuda), eps_d(DType::F32, Shape{n * dim}, Device::kCuda),
        xt_d(DType::F32, Shape{n * dim}, Device::kCuda);
    cuda_ops().q_sample_eps(abar.data<double>(), steps, seed, step, first, n, dim, x0_d.data<float>(),
                            t_d.data<float>(), eps_d.data<float>(), xt_d.data<float>());
    EXPECT_EQ(t_cpu, to_host(t_d)) << "t is integer arithmetic on the same Philox words";
    EXPECT_LT(test::rel_error(to_host(eps_d), eps_cpu, eps_cpu.size()), 1e-6) << "dim " << dim;
    EXPECT_LT(test::rel_error(to_host(xt_d), xt_cpu, xt_cpu.size()), 1e-6) << "dim " << dim;
  }
}

}  // namespace
}  // namespace carnot
