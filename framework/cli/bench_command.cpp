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

#include "framework/cli/bench_rows.h"
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
  check_bench_sizes(args);
  const int n = comm.size();
  if (comm.rank() == 0)
    std::printf("carnot: all-reduce of float32 over %d rank(s), %d calls per size and path; carnot in buckets of %g MiB\n",
                n, args.iters, args.bucket_mb);
  for (std::int64_t bytes = args.min_bytes; bytes <= args.max_bytes; bytes *= 2) {
    const std::int64_t count = bytes / 4;
    std::vector<float> buf(static_cast<std::size_t>(count), 1.0f / float(n));
    GradBuckets buckets(comm, buf.data(), bench_bucket_plan(count, args.bucket_mb));
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
    const double carnot_s = median_round(carnot_rounds), mpi_s = median_round(mpi_rounds);
    auto busbw = [&](double s) { return allreduce_busbw_gbs(count * 4, s, n); };
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
