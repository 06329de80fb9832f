// carnot bench allreduce --backend nccl: Carnot's bucketed all-reduce over NcclComm on device
// buffers against one raw ncclAllReduce of the same buffer on a communicator of its own, timed
// with CUDA events (the slowest rank's mean per call, the median of five alternating rounds).
// One GPU per rank: the local rank's.
#include "framework/cli/bench_rows.h"
#include "framework/cli/commands.h"
#include "framework/core/error.h"

#if CARNOT_WITH_NCCL
#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "framework/core/device.h"
#include "framework/dist/grad_buckets.h"
#include "framework/dist/nccl_comm.h"
#endif

namespace carnot {

#if !CARNOT_WITH_NCCL
int run_bench_allreduce_nccl(Comm&, const BenchArgs&) {
  throw_on_all_ranks(UsageError("bench allreduce --backend nccl: this carnot was built without NCCL"));
}
#else

namespace {

void check(cudaError_t rc, const char* what) {
  if (rc != cudaSuccess) throw Error(str_cat(what, " failed: ", cudaGetErrorString(rc)));
}
void check(ncclResult_t rc, const char* what) {
  if (rc != ncclSuccess) throw Error(str_cat(what, " failed: ", ncclGetErrorString(rc)));
}

// Mean seconds per call of fn (which queues work on `stream`) after warm-up, by events on
// `stream`; the maximum over ranks.
template <class Fn> double time_per_call(Comm& comm, cudaStream_t stream, int iters, Fn fn) {
  for (int i = 0; i < 3; ++i) fn();
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  comm.barrier();
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  check(cudaEventRecord(start, stream), "cudaEventRecord");
  for (int i = 0; i < iters; ++i) fn();
  check(cudaEventRecord(stop, stream), "cudaEventRecord");
  check(cudaEventSynchronize(stop), "cudaEventSynchronize");
  float ms = 0;
  check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  double s = double(ms) / 1e3 / iters;
  comm.allreduce_max(&s, 1);
  return s;
}

}  // namespace

int run_bench_allreduce_nccl(Comm& comm, const BenchArgs& args) {
  check_bench_sizes(args);
  const DeviceChoice gpu = choose_device("auto", comm.local_rank());
  if (!gpu.gpu)
    throw_on_all_ranks(UsageError("bench allreduce --backend nccl needs a GPU for every rank; this one has " +
                                  gpu.description));
  std::unique_ptr<Comm> nccl = make_nccl_comm(comm, gpu.index);
  ncclUniqueId id{};
  if (comm.rank() == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  comm.broadcast(&id, sizeof id, 0);
  ncclComm_t raw = nullptr;
  check(ncclCommInitRank(&raw, comm.size(), id, comm.rank()), "ncclCommInitRank");
  cudaStream_t raw_stream = nullptr;
  check(cudaStreamCreateWithFlags(&raw_stream, cudaStreamNonBlocking), "cudaStreamCreate");
  const int n = comm.size();
  if (comm.rank() == 0)
    std::printf("carnot: NCCL all-reduce of float32 over %d rank(s) on %s; carnot in buckets of %g MiB\n", n,
                gpu.description.c_str(), args.bucket_mb);
  for (std::int64_t bytes = args.min_bytes; bytes <= args.max_bytes; bytes *= 2) {
    const std::int64_t count = bytes / 4;
    float* buf = nullptr;
    check(cudaMalloc(&buf, std::size_t(count) * 4), "cudaMalloc");
    check(cudaMemset(buf, 0, std::size_t(count) * 4), "cudaMemset");
    GradBuckets buckets(*nccl, buf, bench_bucket_plan(count, args.bucket_mb));
    const int iters = int(std::max<std::int64_t>(5, std::min<std::int64_t>(args.iters, (std::int64_t(1) << 32) / bytes)));
    std::vector<double> carnot_rounds, raw_rounds;
    for (int round = 0; round < 5; ++round) {
      carnot_rounds.push_back(time_per_call(comm, nullptr, iters, [&] {  // NcclComm joins the legacy stream
        buckets.begin_step();
        buckets.finish();
      }));
      raw_rounds.push_back(time_per_call(comm, raw_stream, iters, [&] {
        check(ncclAllReduce(buf, buf, std::size_t(count), ncclFloat, ncclSum, raw, raw_stream), "ncclAllReduce");
      }));
    }
    check(cudaFree(buf), "cudaFree");
    const double carnot_s = median_round(carnot_rounds), raw_s = median_round(raw_rounds);
    auto busbw = [&](double s) { return allreduce_busbw_gbs(count * 4, s, n); };
    if (comm.rank() == 0) {
      const nlohmann::ordered_json row = {{"bytes", count * 4},
                                          {"ranks", n},
                                          {"backend", "nccl"},
                                          {"buckets", buckets.buckets().size()},
                                          {"carnot_time_us", carnot_s * 1e6},
                                          {"nccl_time_us", raw_s * 1e6},
                                          {"carnot_algbw_gbs", double(count * 4) / carnot_s / 1e9},
                                          {"nccl_algbw_gbs", double(count * 4) / raw_s / 1e9},
                                          {"carnot_busbw_gbs", busbw(carnot_s)},
                                          {"nccl_busbw_gbs", busbw(raw_s)},
                                          {"ratio", raw_s / carnot_s}};
      std::printf("%s\n", row.dump().c_str());
      std::fflush(stdout);
    }
  }
  ncclCommDestroy(raw);
  cudaStreamDestroy(raw_stream);
  return 0;
}

#endif

}  // namespace carnot
