// The device code path across ranks, on the guarded device (framework/debug/guarded_device.h):
// gradients, buckets started during backward, ZeRO's reduce-scatter, all-gather and the
// optimizer state's gather all on "device" memory. Each rank's run equals the CPU's on the same
// ranks bit for bit.
#include <gtest/gtest.h>

#include "framework/debug/guarded_device.h"
#include "framework/io/job_spec.h"
#include "framework/train/trainer.h"
#include "tests/mpi/mpi_test_env.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

using test::host_bytes;

TEST(GuardedDevice, RanksTrainAsOnTheCpu) {
  Comm& world = *test::g_comm;
  std::uint64_t seed = 0;
  if (world.rank() == 0) seed = test::fresh_seed("GuardedDevice.RanksTrainAsOnTheCpu");
  world.broadcast(&seed, sizeof seed, 0);
  const char* yaml = "name: g\ndata: {kind: swissroll}\nmodel: {kind: mlp, hidden: 32, depth: 3}\n"
                     "train: {global_batch: 61, steps: 5}\ndiagnostics: {every: 2}\n";
  const std::vector<std::vector<std::string>> variants = {
      {"distributed.bucket_mb=0", "distributed.zero=0"},
      {"distributed.bucket_mb=0.002", "distributed.zero=0"},
      {"distributed.bucket_mb=0.002", "distributed.zero=1"},
      {"distributed.bucket_mb=0", "distributed.zero=1", "optimizer.kind=sgd", "optimizer.momentum=0.9"},
  };
  for (std::vector<std::string> overrides : variants) {
    overrides.push_back(str_cat("seed=", seed % 1000000007));
    const JobSpec spec = parse_job_spec(yaml, "job.yaml", overrides);
    Trainer cpu(spec, world, cpu_ops());
    cpu.run(nullptr);
    cpu.gather_optimizer_state();
    GuardedDevice device;
    const std::unique_ptr<Comm> comm = device.wrap(world);
    Trainer guarded(spec, *comm, device.ops());
    guarded.run(nullptr);
    guarded.gather_optimizer_state();
    const std::string what = str_cat(overrides[0], " ", overrides[1], " on rank ", world.rank());
    EXPECT_EQ(cpu.losses(), guarded.losses()) << what;
    EXPECT_TRUE(host_bytes(cpu.params().values()) == host_bytes(guarded.params().values())) << what;
    EXPECT_TRUE(host_bytes(cpu.ema_weights()) == host_bytes(guarded.ema_weights())) << what;
    for (std::size_t i = 0; i < cpu.optimizer().state_names().size(); ++i)
      EXPECT_TRUE(host_bytes(cpu.whole_state(i)) == host_bytes(guarded.whole_state(i))) << what << " state " << i;
  }
}

}  // namespace
}  // namespace carnot
