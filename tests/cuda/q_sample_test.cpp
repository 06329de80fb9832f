// The nvcc-compiled q_sample against its CPU twin, on fresh random inputs. Skipped with a
// message when no GPU is usable (no device, or no driver as on the build machines).
#include <gtest/gtest.h>

#include <random>

#include "framework/core/device.h"
#include "framework/diffusion/eps_objective.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

DeviceChoice gpu_or_skip_reason(std::string* reason) {
  const DeviceChoice d = choose_device("auto", 0);
  if (!d.gpu) *reason = d.description;
  return d;
}

TEST(CudaQSample, MatchesCpuTwin) {
  std::string reason;
  const DeviceChoice gpu = gpu_or_skip_reason(&reason);
  if (!gpu.gpu) GTEST_SKIP() << "no usable GPU: " << reason;
  std::printf("running on %s\n", gpu.description.c_str());

  const std::uint64_t seed = test::fresh_seed("CudaQSample.MatchesCpuTwin");
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  for (const auto& [steps, dim, n] : {std::tuple{1000, 2, 4099}, std::tuple{37, 7, 1000}}) {
    const NoiseSchedule s = NoiseSchedule::cosine(steps);
    std::vector<float> x0(n * dim);
    for (float& v : x0) v = normal(rng);
    std::vector<float> t_cpu(n), eps_cpu(n * dim), xt_cpu(n * dim), t_gpu(n), eps_gpu(n * dim), xt_gpu(n * dim);
    const std::uint32_t step = std::uint32_t(rng() % 100000), first = std::uint32_t(rng() % 1000000);
    make_eps_objective_inputs(s, DeviceChoice{}, n, dim)
        ->make(seed, step, first, n, x0.data(), t_cpu.data(), eps_cpu.data(), xt_cpu.data());
    make_eps_objective_inputs(s, gpu, n, dim)
        ->make(seed, step, first, n, x0.data(), t_gpu.data(), eps_gpu.data(), xt_gpu.data());
    EXPECT_EQ(t_cpu, t_gpu) << "t is integer arithmetic on the same Philox words";
    EXPECT_LT(test::rel_error(eps_gpu, eps_cpu, eps_cpu.size()), 1e-6) << "dim " << dim;
    EXPECT_LT(test::rel_error(xt_gpu, xt_cpu, xt_cpu.size()), 1e-6) << "dim " << dim;
  }
}

}  // namespace
}  // namespace carnot
