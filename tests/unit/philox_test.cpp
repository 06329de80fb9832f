// Philox-4x32-10 against Random123's known-answer vectors, and the variates built on it.
#include <gtest/gtest.h>

#include <cmath>

#include "framework/core/random.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

TEST(Philox, KnownAnswers) {
  struct Case {
    Philox4x32 ctr;
    std::uint32_t k0, k1;
    Philox4x32 out;
  };
  const Case cases[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}}, 0xffffffff, 0xffffffff,
       {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}}, 0xa4093822, 0x299f31d0,
       {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
  };
  for (const Case& c : cases) {
    const Philox4x32 r = philox4x32_10(c.ctr, c.k0, c.k1);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(r.v[i], c.out.v[i]) << "word " << i;
  }
}

TEST(Philox, KeyingSeparatesStepsIndicesAndStreams) {
  const auto a = philox_draw(1, 2, 3, RngStream::kNoise, 0);
  EXPECT_NE(a.v[0], philox_draw(1, 3, 2, RngStream::kNoise, 0).v[0]);
  EXPECT_NE(a.v[0], philox_draw(1, 2, 3, RngStream::kData, 0).v[0]);
  EXPECT_NE(a.v[0], philox_draw(2, 2, 3, RngStream::kNoise, 0).v[0]);
  EXPECT_NE(a.v[0], philox_draw(1ull << 32 | 1, 2, 3, RngStream::kNoise, 0).v[0]);
  EXPECT_EQ(a.v[0], philox_draw(1, 2, 3, RngStream::kNoise, 0).v[0]);
}

// Mean, variance and fourth moment of the normals within 5 standard errors of N(0, 1)'s.
TEST(Philox, NormalsHaveStandardMoments) {
  const std::uint64_t seed = test::fresh_seed("Philox.NormalsHaveStandardMoments");
  const int n = 400000;
  std::vector<double> z(n);
  for (int i = 0; i < n / 8; ++i) philox_normals(seed, 0, std::uint32_t(i), RngStream::kNoise, 8, &z[8 * i]);
  double m1 = 0, m2 = 0, m4 = 0;
  for (double x : z) m1 += x, m2 += x * x, m4 += x * x * x * x;
  m1 /= n, m2 /= n, m4 /= n;
  // Var of the estimators: mean 1/n; E z² has var 2/n; E z⁴ has var (105 − 9)/n.
  EXPECT_LT(std::fabs(m1), 5 * std::sqrt(1.0 / n));
  EXPECT_LT(std::fabs(m2 - 1), 5 * std::sqrt(2.0 / n));
  EXPECT_LT(std::fabs(m4 - 3), 5 * std::sqrt(96.0 / n));
}

TEST(Philox, UniformBelowCoversRangeEvenly) {
  const std::uint64_t seed = test::fresh_seed("Philox.UniformBelowCoversRangeEvenly");
  const std::uint32_t k = 10;
  const int n = 200000;
  std::vector<int> counts(k);
  for (int i = 0; i < n; ++i)
    ++counts[uniform_below(philox_draw(seed, 0, std::uint32_t(i), RngStream::kDiffusionTime, 0).v[0], k)];
  const double p = 1.0 / k, se = std::sqrt(n * p * (1 - p));
  for (std::uint32_t j = 0; j < k; ++j) EXPECT_LT(std::fabs(counts[j] - n * p), 5 * se) << "bin " << j;
}

}  // namespace
}  // namespace carnot
