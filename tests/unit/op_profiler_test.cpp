// The op profiler forwards every op unchanged and counts each call once, under its name.
#include <gtest/gtest.h>

#include <random>

#include "framework/debug/op_profiler.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

TEST(OpProfiler, ForwardsAndCountsEachOp) {
  std::mt19937_64 rng(test::fresh_seed("OpProfiler.ForwardsAndCountsEachOp"));
  const std::int64_t m = 7, n = 5, k = 3;
  const std::vector<double> a = test::randn(rng, m * k), b = test::randn(rng, k * n), bias = test::randn(rng, n);
  std::vector<double> direct(m * n), profiled(m * n);
  OpProfiler profiler(cpu_ops(), false);
  for (int pass = 0; pass < 2; ++pass)
    for (Ops* o : {&cpu_ops(), static_cast<Ops*>(&profiler)}) {
      double* c = o == &profiler ? profiled.data() : direct.data();
      o->gemm(DType::F64, false, false, m, n, k, 1.0, a.data(), k, b.data(), n, pass == 0 ? 0.0 : 1.0, c, n);
      if (pass == 1) o->add_bias(DType::F64, m, n, bias.data(), c);
    }
  EXPECT_EQ(profiled, direct);
  const std::vector<OpProfiler::Row> rows = profiler.rows();
  ASSERT_EQ(rows.size(), 2u);
  for (const OpProfiler::Row& r : rows) {
    EXPECT_EQ(r.calls, r.op == "gemm" ? 2 : 1) << r.op;
    EXPECT_TRUE(r.op == "gemm" || r.op == "add_bias") << r.op;
    EXPECT_GE(r.ms, 0) << r.op;
  }
  EXPECT_GE(rows[0].ms, rows[1].ms);
  profiler.reset();
  EXPECT_TRUE(profiler.rows().empty());
}

}  // namespace
}  // namespace carnot
