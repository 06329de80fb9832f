// Every collective against a serial reference: each rank draws its data from a seed all ranks
// share, so each can rebuild every rank's input and the exact answer. Odd and uneven sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "framework/dist/comm.h"
#include "framework/dist/grad_buckets.h"
#include "kernels/bf16.h"
#include "tests/mpi/mpi_test_env.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

std::uint64_t shared_seed(const char* what) {
  std::uint64_t seed = 0;
  if (test::g_comm->rank() == 0) seed = test::fresh_seed(what);
  test::g_comm->broadcast(&seed, sizeof seed, 0);
  return seed;
}

// Rank r's input of n floats.
std::vector<float> input(std::uint64_t seed, int r, std::int64_t n) {
  std::mt19937_64 rng(seed + 7919 * std::uint64_t(r));
  std::normal_distribution<float> normal;
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = normal(rng);
  return v;
}

const std::int64_t kSizes[] = {1, 2, 7, 1001, 4099, 100003};

// ‖a − b‖ / ‖scale‖ with scale the sum of the magnitudes summed: float rounding is relative to
// those, not to a sum that may cancel to near zero (as a short vector's can).
double sum_error(const std::vector<float>& a, const std::vector<double>& b, const std::vector<double>& scale) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += scale[i] * scale[i];
  }
  return std::sqrt(num / den);
}

TEST(Collectives, AllreduceSumMatchesSerialSum) {
  Comm& world = *test::g_comm;
  const std::uint64_t seed = shared_seed("Collectives.Allreduce");
  for (std::int64_t n : kSizes) {
    std::vector<float> mine = input(seed, world.rank(), n);
    std::vector<double> expect(static_cast<std::size_t>(n), 0.0), scale(expect);
    for (int r = 0; r < world.size(); ++r) {
      const std::vector<float> v = input(seed, r, n);
      for (std::int64_t i = 0; i < n; ++i) expect[std::size_t(i)] += v[std::size_t(i)], scale[std::size_t(i)] += std::fabs(v[std::size_t(i)]);
    }
    world.allreduce_sum(mine.data(), n);
    EXPECT_LT(sum_error(mine, expect, scale), 1e-6) << "n " << n;
  }
}

// bfloat16: every partial sum rounds to 8 bits of mantissa, so against the exact sum the error is
// at most about (ranks − 1) roundings of 2^-9 relative to the magnitudes summed.
TEST(Collectives, AllreduceSumBf16MatchesSerialSumToItsRounding) {
  Comm& world = *test::g_comm;
  const std::uint64_t seed = shared_seed("Collectives.AllreduceBf16");
  const double bound = world.size() * std::ldexp(1.0, -9);
  for (std::int64_t n : kSizes) {
    std::vector<double> expect(static_cast<std::size_t>(n), 0.0), scale(expect);
    std::vector<std::uint16_t> mine(static_cast<std::size_t>(n));
    for (int r = 0; r < world.size(); ++r) {
      const std::vector<float> v = input(seed, r, n);
      for (std::size_t i = 0; i < v.size(); ++i) {
        const std::uint16_t h = float_to_bf16(v[i]);
        if (r == world.rank()) mine[i] = h;
        expect[i] += bf16_to_float(h), scale[i] += std::fabs(bf16_to_float(h));
      }
    }
    world.allreduce_sum_bf16(mine.data(), n);
    std::vector<float> got(mine.size());
    for (std::size_t i = 0; i < got.size(); ++i) got[i] = bf16_to_float(mine[i]);
    const double e = sum_error(got, expect, scale);
    EXPECT_LT(e, bound) << "n " << n;
    if (n >= 1001) {
      EXPECT_GT(e, 0.0) << "n " << n << ": no rounding at all is not bf16 arithmetic";
    }
  }
}

TEST(Collectives, ReduceScatterGivesEachRankItsSummedShard) {
  Comm& world = *test::g_comm;
  const std::uint64_t seed = shared_seed("Collectives.ReduceScatter");
  for (std::int64_t n : kSizes) {
    if (n < world.size()) continue;
    const std::vector<std::int64_t> counts = shard_counts(n, world.size());
    std::int64_t begin = 0;
    for (int r = 0; r < world.rank(); ++r) begin += counts[std::size_t(r)];
    const std::int64_t mine_n = counts[std::size_t(world.rank())];
    std::vector<double> expect(static_cast<std::size_t>(mine_n), 0.0), scale(expect);
    for (int r = 0; r < world.size(); ++r) {
      const std::vector<float> v = input(seed, r, n);
      for (std::int64_t i = 0; i < mine_n; ++i)
        expect[std::size_t(i)] += v[std::size_t(begin + i)], scale[std::size_t(i)] += std::fabs(v[std::size_t(begin + i)]);
    }
    const std::vector<float> in = input(seed, world.rank(), n);
    std::vector<float> out(static_cast<std::size_t>(mine_n));
    world.reduce_scatter_sum(in.data(), out.data(), counts);
    EXPECT_LT(sum_error(out, expect, scale), 1e-6) << "n " << n;
  }
}

TEST(Collectives, AllgatherConcatenatesShardsExactly) {
  Comm& world = *test::g_comm;
  const std::uint64_t seed = shared_seed("Collectives.Allgather");
  for (std::int64_t n : kSizes) {
    const std::vector<std::int64_t> counts = shard_counts(n, world.size());
    std::int64_t begin = 0;
    for (int r = 0; r < world.rank(); ++r) begin += counts[std::size_t(r)];
    const std::vector<float> whole = input(seed, 0, n);  // the answer; rank r owns its shard of it
    std::vector<float> shard(whole.begin() + begin, whole.begin() + begin + counts[std::size_t(world.rank())]);
    std::vector<float> out(static_cast<std::size_t>(n), -1.0f), in_place(static_cast<std::size_t>(n), -1.0f);
    world.allgather(shard.data(), out.data(), counts);
    EXPECT_EQ(out, whole) << "n " << n;
    std::copy(shard.begin(), shard.end(), in_place.begin() + begin);  // the shard already in place
    world.allgather(in_place.data() + begin, in_place.data(), counts);
    EXPECT_EQ(in_place, whole) << "n " << n << " in place";
  }
}

// ZeRO's buckets: a buffer cut into buckets that straddle the shard boundaries, each bucket
// reduce-scattered without blocking, equals one reduce-scatter of the whole (the same sums, so
// the same floats up to MPI's order of summation).
TEST(Collectives, BucketedReduceScatterEqualsWhole) {
  Comm& world = *test::g_comm;
  const std::uint64_t seed = shared_seed("Collectives.BucketedReduceScatter");
  for (std::int64_t n : {7, 1001, 100003}) {
    const std::vector<std::int64_t> counts = shard_counts(n, world.size());
    std::vector<std::int64_t> starts;
    for (std::int64_t b = 0; b < n; b += 1 + n / 13) starts.push_back(b);
    std::vector<float> grads = input(seed, world.rank(), n);
    std::vector<float> whole(std::size_t(counts[std::size_t(world.rank())])), bucketed(whole.size(), -7.0f);
    world.reduce_scatter_sum(grads.data(), whole.data(), counts);
    GradBuckets buckets(world, grads.data(), plan_buckets(starts, n, 4, 4));
    ASSERT_GT(buckets.buckets().size(), 3u);
    buckets.reduce_scatter_into(bucketed.data(), counts, world.rank());
    buckets.begin_step();
    buckets.ready_up_to(n / 2);
    buckets.finish();
    EXPECT_LT(test::rel_error(bucketed.data(), whole.data(), whole.size()), 1e-6) << "n " << n;
  }
}

TEST(Collectives, ScatterIsGathersInverse) {
  Comm& world = *test::g_comm;
  const std::uint64_t seed = shared_seed("Collectives.Scatter");
  for (std::int64_t n : kSizes) {
    const std::vector<std::int64_t> counts = shard_counts(n, world.size());
    std::int64_t begin = 0;
    for (int r = 0; r < world.rank(); ++r) begin += counts[std::size_t(r)];
    const std::vector<float> whole = input(seed, 0, n);
    std::vector<float> mine(std::size_t(counts[std::size_t(world.rank())]), -1.0f);
    world.scatter(world.rank() == 0 ? whole.data() : nullptr, mine.data(), counts);
    EXPECT_EQ(mine, std::vector<float>(whole.begin() + begin, whole.begin() + begin + std::int64_t(mine.size())))
        << "n " << n;
    std::vector<float> back(world.rank() == 0 ? std::size_t(n) : 0, -1.0f);
    world.gather(mine.data(), std::int64_t(mine.size()), counts, world.rank() == 0 ? back.data() : nullptr);
    if (world.rank() == 0) {
      EXPECT_EQ(back, whole) << "n " << n;
    }
  }
}

TEST(Collectives, AllreduceMaxAndBroadcast) {
  Comm& world = *test::g_comm;
  std::vector<double> v = {double(world.rank()), -double(world.rank()), 0.5};
  world.allreduce_max(v.data(), 3);
  EXPECT_EQ(v, (std::vector<double>{double(world.size() - 1), 0.0, 0.5}));
  std::vector<char> bytes(13, char(world.rank()));
  world.broadcast(bytes.data(), 13, world.size() - 1);
  EXPECT_EQ(bytes, std::vector<char>(13, char(world.size() - 1)));
}

TEST(Collectives, ShardCountsCoverEvenlyFirstRanksLarger) {
  for (int world : {1, 2, 3, 4})
    for (std::int64_t n : {0, 1, 5, 1001}) {
      const auto c = shard_counts(n, world);
      std::int64_t total = 0;
      for (int r = 0; r < world; ++r) {
        EXPECT_EQ(c[std::size_t(r)], n / world + (r < n % world ? 1 : 0));
        total += c[std::size_t(r)];
      }
      EXPECT_EQ(total, n);
    }
}

}  // namespace
}  // namespace carnot
