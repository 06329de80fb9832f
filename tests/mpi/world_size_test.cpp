// World-size invariance: R ranks train the same job as one rank, up to the order of float sums.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "framework/io/job_spec.h"
#include "framework/train/trainer.h"
#include "tests/mpi/mpi_test_env.h"
#include "tests/mpi/rank_ordered_comm.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

// The default job (configs/swissroll.yaml) for 50 steps, with the seed drawn fresh on rank 0 and
// AdamW's ε at 1e-6 (below).
JobSpec job(std::int64_t global_batch) {
  JobSpec s;
  s.name = "ws";
  std::uint64_t seed = 0;
  if (test::g_comm->rank() == 0) seed = test::fresh_seed("world-size invariance job seed");
  test::g_comm->broadcast(&seed, sizeof seed, 0);
  s.seed = seed;
  s.train.steps = 50;
  s.train.global_batch = global_batch;
  // R ranks and one rank add their float sums in different orders, and AdamW turns such a rounding
  // δg in a gradient near zero into an update difference of up to lr·δg/ε: 1e5·δg at the default
  // ε = 1e-8, enough for one element to move the weights' relative difference to 3e-6 (seen) or
  // past any bound. ε = 1e-6 keeps that factor at 1e3; what the tests compare, the data-parallel
  // computation against the serial one, does not depend on ε. (Rank-ordered sums make the
  // comparisons that can be exact bit for bit at the default ε: rank_ordered_comm.h.)
  s.optimizer.eps = 1e-6;
  return s;
}

void expect_same_as_one_rank(const JobSpec& spec) {
  Comm& world = *test::g_comm;
  ASSERT_GE(world.size(), 2) << "run this binary under mpirun -np 2 or more";
  Trainer many(spec, world, cpu_ops());
  many.run(nullptr);
  if (world.rank() != 0) return;
  auto self = make_self_comm();
  Trainer one(spec, *self, cpu_ops());
  one.run(nullptr);

  ASSERT_EQ(many.losses().size(), one.losses().size());
  for (std::size_t s = 0; s < one.losses().size(); ++s)
    EXPECT_LT(std::fabs(many.losses()[s] - one.losses()[s]), 1e-5 * std::fabs(one.losses()[s]))
        << "step " << s + 1;
  const Tensor a = many.model().params().values(), b = one.model().params().values();
  const double w = test::rel_error(a.data<float>(), b.data<float>(), std::size_t(b.numel()));
  const Tensor ea = many.ema().weights(), eb = one.ema().weights();
  const double e = test::rel_error(ea.data<float>(), eb.data<float>(), std::size_t(eb.numel()));
  std::printf("%d ranks vs 1, batch %lld: final loss %.8f vs %.8f; weights rel. error %.3g, EMA %.3g\n",
              world.size(), (long long)spec.train.global_batch, many.losses().back(),
              one.losses().back(), w, e);
  EXPECT_LT(w, 1e-5);
  EXPECT_LT(e, 1e-5);
}

TEST(WorldSizeInvariance, DefaultJobFiftySteps) { expect_same_as_one_rank(job(256)); }

// Buckets of 16 KiB (about 30 of them here), each all-reduced as backward finishes it, against one
// all-reduce after backward: the same weights bit for bit, with accumulation, with learned β (whose
// logits make the mark stop short of the input layer), and for a DiT and a U-Net (2 KiB buckets).
// Rank-ordered sums (rank_ordered_comm.h) take MPI's size-dependent summation order out of it.
TEST(Buckets, OverlappedEqualsOneAllreduce) {
  test::RankOrderedComm world(*test::g_comm);
  for (int variant = 0; variant < 5; ++variant) {
    JobSpec one = job(255);
    one.train.steps = 20;
    if (variant == 3) {  // a tiny DiT on dead leaves: its marks come after each block
      one.data.kind = "dead_leaves";
      one.data.image_size = 8;
      one.model.kind = "dit";
      one.model.hidden = 16, one.model.depth = 3, one.model.heads = 2, one.model.patch = 2;
      one.train.global_batch = 24;
    }
    if (variant == 4) {  // a tiny U-Net with dropout: marks after each block, skips reaching back
      one.data.kind = "dead_leaves";
      one.data.image_size = 8;
      one.model.kind = "unet";
      one.model.channels = 4, one.model.channel_mult = {1, 2}, one.model.res_blocks = 1;
      one.model.attention_resolutions = {4}, one.model.groups = 2, one.model.dropout = 0.2;
      one.train.global_batch = 24;
    }
    if (variant == 1) one.train.grad_accum = 3;
    if (variant == 2) {
      one.diffusion.schedule = "sohl2015";
      one.diffusion.steps = 40;
      one.diffusion.loss = "vlb";
      one.diffusion.betas = "learned";
    }
    one.distributed.bucket_mb = 0;
    JobSpec many = one;
    many.distributed.bucket_mb = variant >= 3 ? 1.0 / 512 : 1.0 / 64;
    Trainer a(one, world, cpu_ops()), b(many, world, cpu_ops());
    ASSERT_EQ(a.buckets(), nullptr);
    ASSERT_GE(b.buckets()->buckets().size(), 10u);
    a.run(nullptr);
    b.run(nullptr);
    const Tensor pa = a.model().params().values(), pb = b.model().params().values();
    const double w = test::rel_error(pb.data<float>(), pa.data<float>(), std::size_t(pa.numel()));
    if (world.rank() == 0)
      std::printf("variant %d: %zu buckets vs one all-reduce on %d ranks: weights rel. error %.3g\n", variant,
                  b.buckets()->buckets().size(), world.size(), w);
    EXPECT_EQ(std::memcmp(pa.raw(), pb.raw(), pb.bytes()), 0) << "variant " << variant;
  }
}

// Two runs of the same job at the same world size end with the same weights, bit for bit.
TEST(Determinism, SameJobSameWorldTwiceIsBitwiseIdentical) {
  const JobSpec spec = job(255);
  Trainer a(spec, *test::g_comm, cpu_ops()), b(spec, *test::g_comm, cpu_ops());
  a.run(nullptr);
  b.run(nullptr);
  const Tensor pa = a.model().params().values(), pb = b.model().params().values();
  EXPECT_EQ(std::memcmp(pa.raw(), pb.raw(), pa.bytes()), 0);
  EXPECT_EQ(a.losses(), b.losses());
}

// A batch the ranks cannot split evenly: the first B mod R ranks take one more sample.
TEST(WorldSizeInvariance, UnevenBatch) { expect_same_as_one_rank(job(255)); }

// The bound as the loss, with learned diagonal variances, on the 2015 schedule at T = 40.
JobSpec bound_job(std::int64_t global_batch) {
  JobSpec spec = job(global_batch);
  spec.diffusion.schedule = "sohl2015";
  spec.diffusion.steps = 40;
  spec.diffusion.variance = "learned";
  spec.diffusion.loss = "vlb";
  return spec;
}

TEST(WorldSizeInvariance, LearnedVarianceVlb) { expect_same_as_one_rank(bound_job(255)); }

// Flow matching: logit-normal times with SD3's shift, velocity regression.
TEST(WorldSizeInvariance, FlowMatching) {
  JobSpec spec = job(256);
  spec.diffusion.schedule = "flow";
  spec.diffusion.objective = "flow";
  spec.diffusion.flow_times = "logit_normal";
  spec.diffusion.flow_shift = 3;
  expect_same_as_one_rank(spec);
}

// Learned β (the logits live with the weights and are all-reduced with them) on the bound.
TEST(WorldSizeInvariance, LearnedBetas) {
  JobSpec spec = bound_job(255);
  spec.diffusion.betas = "learned";
  expect_same_as_one_rank(spec);
}

// Ranks and micro-batches together: each rank's slice in 3 pieces.
TEST(WorldSizeInvariance, GradAccum) {
  JobSpec spec = job(255);
  spec.train.grad_accum = 3;
  expect_same_as_one_rank(spec);
}

// EDM: log-normal σ, preconditioned regression.
TEST(WorldSizeInvariance, Edm) {
  JobSpec spec = job(255);
  spec.diffusion.schedule = "edm";
  spec.diffusion.objective = "edm";
  expect_same_as_one_rank(spec);
}

// Fashion-MNIST's training images (Debian's package), padded to 32×32, with labels and flips.
void use_fashion_mnist(JobSpec& spec) {
  spec.data.kind = "fashion_mnist";
  spec.data.path = "/usr/share/datasets/fashion-mnist";
  spec.data.image_size = 28, spec.data.channels = 1, spec.data.num_classes = 10;
  spec.data.pad_to = 32;
  spec.data.flip = true;
}

// A tiny DiT on Fashion-MNIST padded to 32×32 (patch 8: 16 tokens): class labels with dropout to
// the null class, random flips and the epoch's shuffle all keyed by global sample index.
TEST(WorldSizeInvariance, TinyDitOnFashionMnist) {
  JobSpec spec = job(24);
  spec.train.steps = 8;
  use_fashion_mnist(spec);
  spec.model.kind = "dit";
  spec.model.hidden = 32, spec.model.depth = 2, spec.model.heads = 2, spec.model.patch = 8;
  spec.model.class_dropout = 0.3;
  spec.diffusion.variance = "learned";
  spec.diffusion.loss = "hybrid";
  expect_same_as_one_rank(spec);
}

// Dead leaves drawn afresh per sample, unconditional DiT.
TEST(WorldSizeInvariance, TinyDitOnDeadLeaves) {
  JobSpec spec = job(25);
  spec.train.steps = 10;
  spec.data.kind = "dead_leaves";
  spec.data.image_size = 8;
  spec.model.kind = "dit";
  spec.model.hidden = 16, spec.model.depth = 2, spec.model.heads = 2, spec.model.patch = 2;
  expect_same_as_one_rank(spec);
}

// A tiny DDPM U-Net on Fashion-MNIST padded to 32×32 with labels (dropped to the null class),
// flips and dropout in every residual block, each rank's slice in two micro-batches: every mask is
// keyed by global sample index, so the ranks train what one rank does.
TEST(WorldSizeInvariance, TinyUNetOnFashionMnist) {
  JobSpec spec = job(12);
  spec.train.steps = 4;
  spec.train.grad_accum = 2;
  use_fashion_mnist(spec);
  spec.model.kind = "unet";
  spec.model.channels = 8, spec.model.channel_mult = {1, 2}, spec.model.res_blocks = 1;
  spec.model.attention_resolutions = {16}, spec.model.groups = 4, spec.model.dropout = 0.3;
  spec.model.class_dropout = 0.3;
  spec.diffusion.variance = "learned";
  spec.diffusion.loss = "hybrid";
  expect_same_as_one_rank(spec);
}

// The gradient noise scale (diagnostics): R ranks' own gradients as the small batches give the
// estimates that one rank gets from R micro-batches of the same samples, with gradient buckets
// (measured as each bucket starts) and without (measured before the one all-reduce); for the whole
// model and for every group (tensors, and the ReLU MLP's rescaling pairs), trained by SGD.
// Measured at the first step, where every run holds the same weights: later, the runs' orders of
// float sums would have moved their weights apart by a rounding, enough for a ReLU unit near zero
// to be on in one and off in the other.
TEST(Diagnostics, NoiseScaleRanksEqualMicroBatches) {
  Comm& world = *test::g_comm;
  JobSpec spec = job(64);
  spec.train.steps = 1;
  spec.diagnostics.every = 1;
  spec.distributed.bucket_mb = 0;
  spec.model.activation = "relu";
  spec.optimizer.kind = "sgd", spec.optimizer.lr = 0.05, spec.optimizer.momentum = 0.5;
  JobSpec bucketed = spec;
  bucketed.distributed.bucket_mb = 1.0 / 64;
  Trainer plain(spec, world, cpu_ops()), buckets(bucketed, world, cpu_ops());
  plain.run(nullptr);
  buckets.run(nullptr);
  ASSERT_TRUE(plain.noise_scale().has_value());
  ASSERT_TRUE(buckets.noise_scale().has_value());
  const NoiseScale a = *plain.noise_scale(), b = *buckets.noise_scale();
  EXPECT_NEAR(b.g2, a.g2, 1e-4 * (std::fabs(a.g2) + a.trace_sigma / 64));
  EXPECT_NEAR(b.trace_sigma, a.trace_sigma, 1e-4 * std::fabs(a.trace_sigma));
  const std::vector<double>& small = plain.diagnostic_measurements().small_sq;
  ASSERT_EQ(small.size(), plain.diagnostic_groups().size());
  EXPECT_EQ(plain.diagnostic_groups().symmetries().pairs.size(), std::size_t(spec.model.depth));
  EXPECT_LT(test::rel_error(buckets.diagnostic_measurements().small_sq, small, small.size()), 1e-5);
  if (world.rank() != 0) return;
  JobSpec pieces = spec;
  pieces.train.grad_accum = world.size();
  auto self = make_self_comm();
  Trainer one(pieces, *self, cpu_ops());
  one.run(nullptr);
  ASSERT_TRUE(one.noise_scale().has_value());
  const NoiseScale c = *one.noise_scale();
  std::printf("noise scale at step 1: %d ranks |G|² %.6g tr Σ %.6g (B_simple %.4g); 1 rank × %d micro-batches |G|² %.6g "
              "tr Σ %.6g (B_simple %.4g)\n",
              world.size(), a.g2, a.trace_sigma, plain.noise_tracker().b_simple(), world.size(), c.g2, c.trace_sigma,
              one.noise_tracker().b_simple());
  EXPECT_GT(a.trace_sigma, 0.0);
  EXPECT_NEAR(c.g2, a.g2, 1e-4 * (std::fabs(a.g2) + a.trace_sigma / 64));
  EXPECT_NEAR(c.trace_sigma, a.trace_sigma, 1e-4 * std::fabs(a.trace_sigma));
  EXPECT_NEAR(one.noise_tracker().b_simple(), plain.noise_tracker().b_simple(),
              1e-3 * std::fabs(plain.noise_tracker().b_simple()));
  const double e = test::rel_error(one.diagnostic_measurements().small_sq, small, small.size());
  std::printf("per-group mean |G_b|² over %zu groups, %d ranks vs 1 rank's micro-batches: rel. error %.3g\n",
              small.size(), world.size(), e);
  EXPECT_LT(e, 1e-5);
  // The report: SGD's temperature η/((1 − μ)B), the entropic terms and a split for every pair.
  const nlohmann::json m = plain.diagnostics_report().metrics;
  EXPECT_DOUBLE_EQ(m.at("temperature").get<double>(), 0.05 / 0.5 / 64);
  EXPECT_DOUBLE_EQ(m.at("entropic_ratio").get<double>(), a.trace_sigma / (64 * a.g2));
  for (const char* key : {"charge/", "balance/", "imbalance_g2/", "imbalance_noise/"})
    EXPECT_TRUE(m.contains(std::string(key) + "blocks.0.fc1-fc2")) << key;
  // The split is exact: the two parts add up to the measured ‖g_u‖² − ‖g_w‖² (the unbiased |G|²
  // plus tr Σ/B is the large batch's own squared norm).
  const DiagnosticGroups& groups = plain.diagnostic_groups();
  const GroupMeasurements& meas = plain.diagnostic_measurements();
  for (std::size_t k = 0; k < groups.symmetries().pairs.size(); ++k) {
    const std::string& name = groups.symmetries().pairs[k].name;
    const double parts = m.at("imbalance_g2/" + name).get<double>() + m.at("imbalance_noise/" + name).get<double>();
    const double measured = meas.grad_sq[groups.pair_u(k)] - meas.grad_sq[groups.pair_w(k)];
    EXPECT_NEAR(parts, measured, 1e-9 * (meas.grad_sq[groups.pair_u(k)] + meas.grad_sq[groups.pair_w(k)])) << name;
  }
}

// Per-layer weight and gradient norms (diagnostics): the same with ZeRO (each rank a shard of the
// gradient, partial sums all-reduced) as without, and as on one rank.
TEST(Diagnostics, LayerNormsAcrossZeroAndWorldSize) {
  // ZeRO against zero 0 with ReLU's rescaling pairs (groups that straddle the shards), through
  // rank-ordered sums: the two runs then hold the same weights and gradients bit for bit, and the
  // norms differ only by the order of their float64 partial sums.
  test::RankOrderedComm world(*test::g_comm);
  JobSpec spec = job(64);
  spec.train.steps = 4;
  spec.diagnostics.every = 2;
  spec.model.activation = "relu";
  JobSpec sharded = spec;
  sharded.distributed.zero = 1;
  Trainer plain(spec, world, cpu_ops()), zero(sharded, world, cpu_ops());
  plain.run(nullptr);
  zero.run(nullptr);
  const std::vector<double> g = plain.layer_grad_squares();
  ASSERT_EQ(g.size(), plain.model().params().params().size());
  const std::vector<double>& all = plain.diagnostic_measurements().grad_sq;  // tensors, then the pairs' sides
  ASSERT_GT(all.size(), g.size());
  EXPECT_LT(test::rel_error(zero.diagnostic_measurements().grad_sq, all, all.size()), 1e-12);
  EXPECT_LT(test::rel_error(zero.layer_grad_squares(), g, g.size()), 1e-12);
  EXPECT_LT(test::rel_error(zero.layer_weight_squares(), plain.layer_weight_squares(), g.size()), 1e-12);
  for (std::size_t i = 0; i < g.size(); ++i)
    EXPECT_GT(g[i], 0.0) << plain.model().params().params()[i].name;

  // R ranks against one, with the default smooth activation: their trajectories differ by the
  // order of float sums, which a ReLU can turn into a unit switched on in one and off in the other
  // (a replayed seed gave 4e-3 after four steps).
  JobSpec smooth = job(64);
  smooth.train.steps = 4;
  smooth.diagnostics.every = 2;
  Trainer many(smooth, *test::g_comm, cpu_ops());
  many.run(nullptr);
  if (world.rank() != 0) return;
  auto self = make_self_comm();
  Trainer one(smooth, *self, cpu_ops());
  one.run(nullptr);
  const std::vector<double> gm = many.layer_grad_squares();
  const double e = test::rel_error(one.layer_grad_squares(), gm, gm.size());
  std::printf("per-layer gradient squares, %d ranks vs 1: rel. error %.3g over %zu tensors\n", world.size(), e,
              gm.size());
  EXPECT_LT(e, 1e-5);
}

}  // namespace
}  // namespace carnot
