// The trainer in one process: batch slicing, determinism, and that it learns.
#include <gtest/gtest.h>

#include <cstring>

#include "framework/io/job_spec.h"
#include "framework/train/trainer.h"

namespace carnot {
namespace {

JobSpec small_job(std::int64_t steps) {
  JobSpec s;
  s.name = std::string(1, 't');  // (a literal trips GCC 12's false -Wrestrict, PR105329)
  s.model.hidden = 32;
  s.model.depth = 2;
  s.train.steps = steps;
  s.train.global_batch = 64;
  return s;
}

TEST(BatchSlice, ContiguousAndFirstRanksTakeTheRemainder) {
  for (int world : {1, 2, 3, 4, 7})
    for (std::int64_t batch : {1, 5, 64, 255, 256}) {
      std::int64_t next = 0;
      for (int r = 0; r < world; ++r) {
        const Slice s = batch_slice(batch, r, world);
        EXPECT_EQ(s.begin, next);
        EXPECT_EQ(s.count, batch / world + (r < batch % world ? 1 : 0));
        next += s.count;
      }
      EXPECT_EQ(next, batch);
    }
}

TEST(Trainer, SameJobTwiceIsBitwiseIdentical) {
  auto comm = make_self_comm();
  Trainer a(small_job(20), *comm, cpu_ops()), b(small_job(20), *comm, cpu_ops());
  a.run(nullptr);
  b.run(nullptr);
  const Tensor pa = a.model().params().values(), pb = b.model().params().values();
  EXPECT_EQ(std::memcmp(pa.raw(), pb.raw(), pa.bytes()), 0);
  EXPECT_EQ(a.losses(), b.losses());
}

// Early training on the roll: the ε-loss starts near 1 (the variance of ε) and falls.
TEST(Trainer, LossFalls) {
  auto comm = make_self_comm();
  Trainer t(small_job(300), *comm, cpu_ops());
  t.run(nullptr);
  double first = 0, last = 0;
  for (int i = 0; i < 20; ++i) first += t.losses()[i] / 20, last += t.losses()[280 + i] / 20;
  EXPECT_LT(last, 0.8 * first) << "first " << first << " last " << last;
}

}  // namespace
}  // namespace carnot
