// carnot bench step JOB [--set k=v]... [--steps N] [--warmup W], under mpirun: where a training
// step's time goes, with communication overlapped (the job's gradient buckets) and not
// (distributed.bucket_mb 0: one all-reduce after backward). Exposed communication is the time
// the step waits for collectives to end (Trainer::comm_wait_seconds); compute is the rest. Each
// figure is the slowest rank's mean per step over N steps after W of warm-up. One JSON object per
// setting on stdout (rank 0); one rank measures one setting (there is nothing to overlap). With
// --device cuda the step runs on the GPU (the trainer on device buffers, NCCL between ranks).
// --profile adds, after each row, rank 0's time per op and step (debug/op_profiler.h), largest
// first, and what the ops leave of the step (host work, waits, communication not overlapped).
#include <algorithm>
#include <chrono>
#include <memory>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "framework/cli/commands.h"
#include "framework/debug/op_profiler.h"
#include "framework/io/job_spec.h"
#include "framework/train/train_device.h"
#include "framework/train/trainer.h"

namespace carnot {

int run_bench_step(Comm& comm, const DeviceChoice& device, const BenchStepArgs& args) {
  JobSpec spec = load_spec_on_all_ranks(comm, args.job, args.overrides);
  if (spec.model.kind == "exact")
    throw_on_all_ranks(UsageError(args.job + ": model.kind exact has no training step to measure"));
  spec.train.steps = args.warmup + args.steps;
  spec.checkpoint.every = args.warmup;  // the checkpoint hook marks the end of warm-up
  const double job_bucket_mb = spec.distributed.bucket_mb > 0 ? spec.distributed.bucket_mb : 25;
  if (comm.rank() == 0)
    std::printf("carnot: step time of '%s' on %d rank(s) (%s): %lld steps after %lld of warm-up, global batch %lld\n",
                spec.name.c_str(), comm.size(), comm.backend().c_str(), (long long)args.steps, (long long)args.warmup,
                (long long)spec.train.global_batch);
  // One rank has nothing to overlap: one row.
  const std::vector<double> settings = comm.size() > 1 ? std::vector<double>{job_bucket_mb, 0.0}
                                                       : std::vector<double>{0.0};
  for (const double bucket_mb : settings) {
    spec.distributed.bucket_mb = bucket_mb;
    TrainDevice on = make_train_device(device, comm, spec.distributed.backend, args.job);
    std::unique_ptr<OpProfiler> profiler;
    if (args.profile) profiler = std::make_unique<OpProfiler>(*on.ops, device.gpu);
    Trainer trainer(spec, *on.comm, profiler ? *profiler : *on.ops);
    using Clock = std::chrono::steady_clock;
    Clock::time_point t0;
    double wait0 = 0;
    trainer.run(nullptr, [&](std::int64_t step) {
      if (step != args.warmup) return;
      on.ops->synchronize();
      if (profiler) profiler->reset();
      comm.barrier();
      t0 = Clock::now();
      wait0 = trainer.comm_wait_seconds();
    });
    on.ops->synchronize();  // the last step's optimizer and EMA may still be queued on a GPU
    double times[2] = {std::chrono::duration<double>(Clock::now() - t0).count() / double(args.steps),
                       (trainer.comm_wait_seconds() - wait0) / double(args.steps)};
    comm.allreduce_max(times, 2);
    if (comm.rank() == 0) {
      const nlohmann::ordered_json row = {
          {"overlap", bucket_mb > 0},
          {"bucket_mb", bucket_mb},
          {"buckets", trainer.buckets() ? trainer.buckets()->buckets().size() : 1},
          {"ranks", comm.size()},
          {"zero", spec.distributed.zero},
          {"step_ms", times[0] * 1e3},
          {"compute_ms", std::max(0.0, times[0] - times[1]) * 1e3},
          {"exposed_comm_ms", times[1] * 1e3},
          {"exposed_fraction", times[1] / times[0]},
          {"samples_per_s", double(spec.train.global_batch) / times[0]}};
      std::printf("%s\n", row.dump().c_str());
      if (profiler) {
        const double steps = double(args.steps), step_ms = times[0] * 1e3;
        nlohmann::ordered_json ops = nlohmann::json::array();
        double total = 0;
        for (const OpProfiler::Row& r : profiler->rows()) {
          total += r.ms / steps;
          ops.push_back({{"op", r.op}, {"ms_per_step", r.ms / steps}, {"calls_per_step", double(r.calls) / steps},
                         {"share", r.ms / steps / step_ms}});
        }
        const nlohmann::ordered_json profile = {{"profile", {{"step_ms", step_ms},
                                                             {"ops_ms", total},
                                                             {"outside_ops_ms", std::max(0.0, step_ms - total)},
                                                             {"ops", ops}}}};
        std::printf("%s\n", profile.dump().c_str());
      }
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace carnot
