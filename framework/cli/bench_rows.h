// What the two all-reduce benches (MPI, bench_command.cpp; NCCL, bench_nccl.cpp) share: the size
// limits, the bucket plan of the path training takes, and nccl-tests' accounting.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "framework/cli/commands.h"
#include "framework/core/error.h"
#include "framework/dist/agree.h"
#include "framework/dist/grad_buckets.h"

namespace carnot {

// One buffer per rank, and MPI counts are ints: at most 1 GiB.
inline void check_bench_sizes(const BenchArgs& args) {
  constexpr std::int64_t kMaxBytes = std::int64_t(1) << 30;
  if (args.min_bytes < 4 || args.max_bytes < args.min_bytes || args.max_bytes > kMaxBytes)
    throw_on_all_ranks(UsageError(str_cat("--min and --max: need 4 <= min <= max <= ", kMaxBytes, " bytes (1G), got ",
                                          args.min_bytes, " and ", args.max_bytes)));
}

// The buckets training would cut from `count` floats, parameters taken as 256 KiB apart.
inline std::vector<BucketRange> bench_bucket_plan(std::int64_t count, double bucket_mb) {
  std::vector<std::int64_t> boundaries;
  for (std::int64_t b = 0; b < count; b += 65536) boundaries.push_back(b);
  const auto bucket_bytes = std::max<std::int64_t>(4, std::int64_t(bucket_mb * 1024 * 1024));
  return plan_buckets(boundaries, count, bucket_bytes, std::min<std::int64_t>(bucket_bytes, 1 << 20));
}

// The median of the five alternating rounds.
inline double median_round(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + 2, v.end());
  return v[2];
}

// nccl-tests' bus bandwidth of an all-reduce: algbw · 2 (n − 1) / n, in GB/s.
inline double allreduce_busbw_gbs(std::int64_t bytes, double seconds, int ranks) {
  return ranks > 1 ? double(bytes) / seconds * 2.0 * (ranks - 1) / ranks / 1e9 : 0.0;
}

}  // namespace carnot
