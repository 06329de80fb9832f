// The trainer on the GPU (cuda_ops() and NcclComm over one rank): two runs of the same job give
// the same bits (deterministic by default), in float32 and bf16, with micro-batches, buckets and
// diagnostics; and its first SGD step moves the weights as the CPU's does, to 1e-4 (ten times the
// per-op float32 bound, for a whole forward, backward and update). Skipped without a GPU.
#include <gtest/gtest.h>

#include "framework/core/device.h"
#include "framework/dist/nccl_comm.h"
#include "framework/io/job_spec.h"
#include "framework/train/trainer.h"
#include "kernels/cuda/cuda_ops.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

using test::host_bytes;

const char* kDit = "name: d\ndata: {kind: dead_leaves, image_size: 16}\n"
                   "model: {kind: dit, patch: 4, heads: 2, hidden: 64, depth: 2}\n"
                   "train: {global_batch: 16, steps: 4, grad_accum: 2}\ndiagnostics: {every: 2}\n"
                   "distributed: {bucket_mb: 0.01}\n";

struct GpuRun {
  std::vector<double> losses;
  std::vector<char> weights;
};

GpuRun train_on_gpu(const JobSpec& spec) {
  auto self = make_self_comm();
  const std::unique_ptr<Comm> nccl = make_nccl_comm(*self, 0);
  Trainer t(spec, *nccl, cuda_ops());
  t.run(nullptr);
  return {t.losses(), host_bytes(t.weights())};
}

TEST(CudaTrainer, TwoRunsGiveTheSameBits) {
  const DeviceChoice d = choose_device("auto", 0);
  if (!d.gpu) GTEST_SKIP() << "no usable GPU: " << d.description;
  if (!nccl_available()) GTEST_SKIP() << "built without NCCL";
  for (const char* precision : {"fp32", "bf16"}) {
    const JobSpec spec = parse_job_spec(kDit, "job.yaml", {str_cat("train.precision=", precision)});
    const GpuRun a = train_on_gpu(spec), b = train_on_gpu(spec);
    EXPECT_EQ(a.losses, b.losses) << precision;
    EXPECT_TRUE(a.weights == b.weights) << precision << ": the weights differ between two runs";
    std::printf("%s: 4 steps on the GPU, losses %.6f → %.6f, repeated bit for bit\n", precision, a.losses.front(),
                a.losses.back());
  }
}

TEST(CudaTrainer, FirstStepMatchesTheCpu) {
  const DeviceChoice d = choose_device("auto", 0);
  if (!d.gpu) GTEST_SKIP() << "no usable GPU: " << d.description;
  if (!nccl_available()) GTEST_SKIP() << "built without NCCL";
  const JobSpec spec = parse_job_spec(kDit, "job.yaml", {"train.steps=1", "optimizer.kind=sgd", "optimizer.lr=0.1"});
  auto self = make_self_comm();
  Trainer cpu(spec, *self, cpu_ops());
  std::vector<char> start = host_bytes(cpu.weights());
  cpu.run(nullptr);
  const GpuRun gpu = train_on_gpu(spec);
  auto floats = [](const std::vector<char>& b) {
    std::vector<double> f(b.size() / 4);
    for (std::size_t i = 0; i < f.size(); ++i) f[i] = reinterpret_cast<const float*>(b.data())[i];
    return f;
  };
  const std::vector<double> w0 = floats(start), wc = floats(host_bytes(cpu.weights())), wg = floats(gpu.weights);
  std::vector<double> dc(w0.size()), dg(w0.size());
  for (std::size_t i = 0; i < w0.size(); ++i) dc[i] = wc[i] - w0[i], dg[i] = wg[i] - w0[i];
  const double e = test::rel_error(dg, dc, dc.size());
  std::printf("first SGD update on the GPU vs the CPU: ‖gpu − cpu‖/‖cpu‖ = %.2e; loss %.7f vs %.7f\n", e,
              gpu.losses[0], cpu.losses()[0]);
  EXPECT_LT(e, 1e-4);
  EXPECT_NEAR(gpu.losses[0], cpu.losses()[0], 1e-5 * cpu.losses()[0]);
}

}  // namespace
}  // namespace carnot
