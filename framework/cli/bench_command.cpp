// carnot bench allreduce [--min SIZE] [--max SIZE] [--iters N] [--bucket-mb MB], under mpirun: the
// all-reduce that training does (the buffer cut into gradient buckets of --bucket-mb on boundaries
// every 256 KiB, as parameters would cut it, each bucket's nonblocking all-reduce started in order
// and all waited for: dist/grad_buckets.h) against one raw MPI_Allreduce of the same buffer in the
// same run, alternated so that drift in the machine hits both alike. --backend nccl measures
// device buffers instead (bench_nccl.cpp). One JSON object per
// message size on stdout (rank 0), with nccl-tests' accounting: algbw = bytes / time and
// busbw = algbw · 2 (n − 1) / n, n ranks; time is the slowest rank's mean per call, the median of
// five alternating rounds.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "framework/cli/commands.h"
#include "framework/core/error.h"
#include "framework/dist/grad_buckets.h"

namespace carnot {

namespace {

// Mean seconds per call of fn over iters calls after warm-up, the maximum over ranks.
template <class Fn> double time_per_call(int iters, Fn fn) {
  for (int i = 0; i < 3; ++i) fn();
  MPI_Barrier(MPI_COMM_WORLD);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) fn();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / iters;
  MPI_Allreduce(MPI_IN_PLACE, &s, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return s;
}

}  // namespace

int run_bench_allreduce(Comm& comm, const BenchArgs& args) {
  if (args.backend == "nccl") return run_bench_allreduce_nccl(comm, args);
  if (comm.backend() != "mpi")
    throw_on_all_ranks(UsageError("carnot bench allreduce compares with raw MPI: run it under mpirun (this run has backend " +
                     comm.backend() + ")"));
  constexpr std::int64_t kMaxBytes = std::int64_t(1) << 30;  // one buffer per rank; MPI counts are int
  if (args.min_bytes < 4 || args.max_bytes < args.min_bytes || args.max_bytes > kMaxBytes)
    throw_on_all_ranks(UsageError(str_cat("--min and --max: need 4 <= min <= max <= ", kMaxBytes, " bytes (1G), got ",
                                          args.min_bytes, " and ", args.max_bytes)));
  const int n = comm.size();
  if (comm.rank() == 0)
    std::printf("carnot: all-reduce of float32 over %d rank(s), %d calls per size and path; carnot in buckets of %g MiB\n",
                n, args.iters, args.bucket_mb);
  for (std::int64_t bytes = args.min_bytes; bytes <= args.max_bytes; bytes *= 2) {
    const std::int64_t count = bytes / 4;
    std::vector<float> buf(static_cast<std::size_t>(count), 1.0f / float(n));
    std::vector<std::int64_t> boundaries;
    for (std::int64_t b = 0; b < count; b += 65536) boundaries.push_back(b);
    const auto bucket_bytes = std::max<std::int64_t>(4, std::int64_t(args.bucket_mb * 1024 * 1024));
    GradBuckets buckets(comm, buf.data(),
                        plan_buckets(boundaries, count, bucket_bytes, std::min<std::int64_t>(bucket_bytes, 1 << 20)));
    // Fewer calls for large messages keep each size to a second or so.
    const int iters = int(std::max<std::int64_t>(3, std::min<std::int64_t>(args.iters, (std::int64_t(1) << 27) / bytes)));
    // Five alternating rounds of each path; the median round of each damps the bursts of a shared
    // machine, which otherwise move one round by 20 %.
    std::vector<double> carnot_rounds, mpi_rounds;
    for (int round = 0; round < 5; ++round) {
      carnot_rounds.push_back(time_per_call(iters, [&] {
        buckets.begin_step();
        buckets.finish();
      }));
      mpi_rounds.push_back(time_per_call(iters, [&] {
        MPI_Allreduce(MPI_IN_PLACE, buf.data(), int(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      }));
    }
    auto median = [](std::vector<double> v) {
      std::nth_element(v.begin(), v.begin() + 2, v.end());
      return v[2];
    };
    const double carnot_s = median(carnot_rounds), mpi_s = median(mpi_rounds);
    const double factor = n > 1 ? 2.0 * (n - 1) / n : 0.0;
    auto busbw = [&](double s) { return double(count * 4) / s * factor / 1e9; };
    if (comm.rank() == 0) {
      const nlohmann::ordered_json row = {{"bytes", count * 4},
                                          {"ranks", n},
                                          {"buckets", buckets.buckets().size()},
                                          {"carnot_time_us", carnot_s * 1e6},
                                          {"mpi_time_us", mpi_s * 1e6},
                                          {"carnot_algbw_gbs", double(count * 4) / carnot_s / 1e9},
                                          {"carnot_busbw_gbs", busbw(carnot_s)},
                                          {"mpi_busbw_gbs", busbw(mpi_s)},
                                          {"ratio", mpi_s / carnot_s}};
      std::printf("%s\n", row.dump().c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace carnot
