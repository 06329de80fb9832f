// ZeRO stage 1: the sharded optimizer computes what the replicated one does, holds 1/R of its
// state, and hands its moments to checkpoints whole, so a run resumes bit for bit, or switches
// distributed.zero on resume.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>

#include "framework/io/job_spec.h"
#include "framework/train/trainer.h"
#include "tests/mpi/mpi_test_env.h"
#include "tests/mpi/rank_ordered_comm.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

JobSpec job(std::int64_t steps) {
  JobSpec s;
  s.name = "zero";
  std::uint64_t seed = 0;
  if (test::g_comm->rank() == 0) seed = test::fresh_seed("ZeRO job seed");
  test::g_comm->broadcast(&seed, sizeof seed, 0);
  s.seed = seed;
  s.train.steps = steps;
  s.train.global_batch = 255;
  return s;
}

double weights_error(const Trainer& a, const Trainer& b) {
  const Tensor pa = a.model().params().values(), pb = b.model().params().values();
  return test::rel_error(pa.data<float>(), pb.data<float>(), std::size_t(pb.numel()));
}

// Against zero 0 on the same ranks: unbucketed, bucketed (buckets straddle the shard boundaries),
// with accumulation and learned β, and with clipping that bites on every step. The sums go
// through RankOrderedComm, so both reduce the same gradients to the same bits and the weights
// must agree bit for bit; over MPI's own sums AdamW's ε turns their rounding difference in nearly
// cancelled gradients into weight differences up to ~1e-6 (rank_ordered_comm.h), which no fixed
// tolerance bounds.
TEST(Zero, ShardedOptimizerEqualsReplicated) {
  test::RankOrderedComm world(*test::g_comm);
  for (int variant = 0; variant < 4; ++variant) {
    JobSpec plain = job(30);
    plain.distributed.bucket_mb = variant == 0 ? 0 : 1.0 / 64;
    if (variant == 2) {
      plain.train.grad_accum = 3;
      plain.diffusion.schedule = "sohl2015";
      plain.diffusion.steps = 40;
      plain.diffusion.loss = "vlb";
      plain.diffusion.betas = "learned";
    }
    if (variant == 3) plain.optimizer.grad_clip = 0.05;
    JobSpec sharded = plain;
    sharded.distributed.zero = 1;
    Trainer a(plain, world, cpu_ops()), b(sharded, world, cpu_ops());
    a.run(nullptr);
    b.run(nullptr);
    const double w = weights_error(b, a);
    if (world.rank() == 0)
      std::printf("variant %d on %d ranks: zero 1 vs zero 0 weights rel. error %.3g, final loss %.8f vs %.8f\n",
                  variant, world.size(), w, b.losses().back(), a.losses().back());
    const Tensor pa = a.model().params().values(), pb = b.model().params().values();
    EXPECT_EQ(std::memcmp(pa.raw(), pb.raw(), pb.bytes()), 0) << "variant " << variant;
  }
}

// Each rank's AdamW holds its shard's moments only: about 1/R of all, and together all of them.
TEST(Zero, OptimizerStateIsOneShardPerRank) {
  Comm& world = *test::g_comm;
  JobSpec spec = job(1);
  spec.distributed.zero = 1;
  Trainer t(spec, world, cpu_ops());
  const std::int64_t whole = t.params().values().numel();
  const std::int64_t mine = t.optimizer().state(0).numel();
  EXPECT_EQ(mine, t.shard_counts()[std::size_t(world.rank())]);
  EXPECT_LE(mine, whole / world.size() + 1);
  double total = double(mine);
  world.allreduce_sum(&total, 1);
  EXPECT_EQ(std::int64_t(total), whole);
  if (world.rank() == 0)
    std::printf("AdamW moments per rank: %lld of %lld parameters (1/%d)\n", (long long)mine, (long long)whole,
                world.size());
}

// Stop at step 15, move the state (weights, EMA, moments gathered to rank 0) into a new trainer,
// scatter, go on to 30: bitwise the uninterrupted run. Then the same state into a zero 0 trainer.
// AdamW's two moments, and SGD's momentum buffer.
class ZeroResume : public ::testing::TestWithParam<const char*> {};
INSTANTIATE_TEST_SUITE_P(Optimizers, ZeroResume, ::testing::Values("adamw", "sgd"));

TEST_P(ZeroResume, StateGatherAndScatterResumeBitwise) {
  test::RankOrderedComm world(*test::g_comm);  // so that zero 0 and zero 1 sum to the same bits
  JobSpec spec = job(30);
  spec.distributed.zero = 1;
  spec.optimizer.grad_clip = 0.05;
  spec.optimizer.kind = GetParam();
  if (spec.optimizer.kind == "sgd") spec.optimizer.lr = 0.05, spec.optimizer.momentum = 0.9;
  Trainer straight(spec, world, cpu_ops());
  straight.run(nullptr);

  JobSpec first_half = spec;
  first_half.train.steps = 15;
  Trainer before(first_half, world, cpu_ops());
  before.run(nullptr);
  before.gather_optimizer_state();
  for (int zero : {1, 0}) {
    JobSpec resumed_spec = spec;
    resumed_spec.distributed.zero = zero;
    Trainer after(resumed_spec, world, cpu_ops());
    const Tensor from[] = {before.params().values(), before.ema_weights()}, to[] = {after.params().values(), after.ema_weights()};
    for (int i = 0; i < 2; ++i) std::memcpy(to[i].raw(), from[i].raw(), from[i].bytes());
    if (world.rank() == 0)  // as load_checkpoint does: the whole state on rank 0
      for (std::size_t i = 0; i < before.optimizer().state_names().size(); ++i)
        std::memcpy(after.whole_state(i).raw(), before.whole_state(i).raw(), before.whole_state(i).bytes());
    after.scatter_optimizer_state();
    after.set_step(15);
    after.run(nullptr);
    const Tensor pa = after.model().params().values(), ps = straight.model().params().values();
    EXPECT_EQ(std::memcmp(pa.raw(), ps.raw(), ps.bytes()), 0)
        << "resumed under zero " << zero << " differs from the straight run under zero 1";
  }
}

}  // namespace
}  // namespace carnot
