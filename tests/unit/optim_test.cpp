// Clipping and the EMA wrapper.
#include <gtest/gtest.h>

#include <cmath>

#include "framework/eval/sliced_wasserstein.h"
#include "framework/optim/ema.h"
#include "framework/optim/grad_clip.h"
#include "framework/optim/lr_schedule.h"

namespace carnot {
namespace {

TEST(GradClip, ScalesToMaxNormAndReportsNormBefore) {
  std::vector<float> g = {3, 4};
  const Tensor t(g.data(), DType::F32, Shape{2});
  EXPECT_DOUBLE_EQ(clip_grad_norm(cpu_ops(), t, 1.0), 5.0);
  EXPECT_NEAR(std::hypot(g[0], g[1]), 1.0, 1e-6);
  std::vector<float> small = {0.3f, 0.4f};
  const Tensor s(small.data(), DType::F32, Shape{2});
  EXPECT_NEAR(clip_grad_norm(cpu_ops(), s, 1.0), 0.5, 1e-7);
  EXPECT_FLOAT_EQ(small[0], 0.3f);  // below the bound: untouched
  EXPECT_NEAR(clip_grad_norm(cpu_ops(), t, 0.0), 1.0, 1e-6);  // 0 only measures
}

TEST(Ema, StartsAtParamsAndBlends) {
  std::vector<float> p = {2, 4};
  const Tensor t(p.data(), DType::F32, Shape{2});
  Ema ema(cpu_ops(), t, 0.9);
  p = {12, 14};
  ema.update(t);
  EXPECT_FLOAT_EQ(ema.weights().data<float>()[0], 0.9f * 2 + 0.1f * 12);
  EXPECT_FLOAT_EQ(ema.weights().data<float>()[1], 0.9f * 4 + 0.1f * 14);
}

// Shifting a set by c along x moves each projection by c·d_x, so SW1 = c · mean |d_x|.
TEST(SlicedWasserstein, ShiftGivesClosedForm) {
  const std::vector<double> dirs = fixed_directions(2, 64);
  std::vector<float> a(2 * 100), b(2 * 100);
  for (int i = 0; i < 100; ++i) a[2 * i] = b[2 * i] = float(i % 13) * 0.1f, a[2 * i + 1] = b[2 * i + 1] = float(i % 7);
  EXPECT_EQ(sliced_wasserstein1(a.data(), b.data(), 100, 2, dirs), 0.0);
  for (int i = 0; i < 100; ++i) b[2 * i] += 0.5f;
  double expect = 0;
  for (int p = 0; p < 64; ++p) expect += 0.5 * std::fabs(dirs[2 * p]) / 64;
  EXPECT_NEAR(sliced_wasserstein1(a.data(), b.data(), 100, 2, dirs), expect, 1e-6);
}

// Warm-up: lr·(s+1)/W; then constant, or cosine: lr at the warm-up's end, the midpoint of lr and
// min_lr halfway, min_lr at the end and after.
TEST(LrSchedule, WarmupThenConstantOrCosine) {
  OptimizerSpec o;
  o.lr = 0.1, o.warmup_steps = 10;
  EXPECT_DOUBLE_EQ(scheduled_lr(o, 0, 1000), 0.01);
  EXPECT_DOUBLE_EQ(scheduled_lr(o, 4, 1000), 0.05);
  EXPECT_DOUBLE_EQ(scheduled_lr(o, 9, 1000), 0.1);
  EXPECT_DOUBLE_EQ(scheduled_lr(o, 500, 1000), 0.1);
  o.schedule = "cosine", o.min_lr = 0.02;
  EXPECT_DOUBLE_EQ(scheduled_lr(o, 10, 110), 0.1);
  EXPECT_NEAR(scheduled_lr(o, 60, 110), 0.06, 1e-15);
  EXPECT_NEAR(scheduled_lr(o, 35, 110), 0.02 + 0.08 * 0.5 * (1 + std::cos(M_PI / 4)), 1e-15);
  EXPECT_DOUBLE_EQ(scheduled_lr(o, 110, 110), 0.02);
  EXPECT_DOUBLE_EQ(scheduled_lr(o, 5000, 110), 0.02);
  o.decay_steps = 210;  // its own horizon instead of train.steps
  EXPECT_NEAR(scheduled_lr(o, 110, 110), 0.06, 1e-15);
}

}  // namespace
}  // namespace carnot
