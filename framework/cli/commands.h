// The subcommands of the carnot binary. Each returns the process exit code.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "framework/core/device.h"
#include "framework/dist/comm.h"

namespace carnot {

struct TrainArgs {
  std::string job;
  std::vector<std::string> overrides;
  std::string run_dir;  // empty: runs/<name>
  std::string resume = "auto";  // auto | never | a checkpoint folder
};

struct SampleArgs {
  std::string ckpt;  // a run folder (its newest good checkpoint) or a checkpoint folder
  std::string job;   // or a job spec whose model is exact (no checkpoint)
  std::vector<std::string> overrides;
  std::string sampler;  // ddpm | ddim | euler | heun | flow_euler; empty: the model's default
  int steps = 0;                 // 0: every training step
  double eta = 0;                // ddim only
  std::int64_t n = 10000;
  std::vector<std::string> out;  // .npy and/or .png
  std::uint64_t seed = 0;
  bool seed_given = false;
  bool no_ema = false;
  double quality_gate = 0;  // > 0: exit 1 when the quality ratio exceeds it
  std::string class_label;  // class-conditional models: K, all (default) or null
  double cfg_scale = 1;     // classifier-free guidance (1: none)
  DeviceChoice device;      // where the network runs (the CPU unless set)
};

struct ValidateArgs {
  std::string job;
  std::vector<std::string> overrides;
  int ranks = 0;  // 0: the world size of this launch
};

struct EvalArgs {
  std::string ckpt, job;
  std::vector<std::string> overrides;
  std::string metric = "nll";
  std::int64_t n = 10000;
  int t_samples = 0;  // 0: every t; else Monte Carlo over this many t per point
  std::uint64_t seed = 0;
  bool seed_given = false;
  bool no_ema = false;
  bool per_step = false;  // print every term of the bound
  DeviceChoice device;    // where the network runs (the CPU unless set)
};

struct InspectArgs {
  std::string path;
};

int run_train(Comm& comm, const DeviceChoice& device, const TrainArgs& args);
int run_validate(Comm& comm, const ValidateArgs& args);
int run_inspect(const InspectArgs& args);

struct ExportArgs {
  std::string ckpt, out;
  bool no_ema = false;
};
int run_export(const ExportArgs& args);
struct ForwardArgs {
  std::string ckpt, x, t, y, out;
  bool no_ema = false;
};
int run_forward(const ForwardArgs& args);
int run_eval(Comm& comm, const EvalArgs& args);

struct AlignArgs {
  std::vector<std::string> ckpts;  // two run or checkpoint folders
  std::string layer;               // empty: each model's middle block
  std::string data;                // a job spec whose data probes both; empty: the first model's
  std::int64_t n = 1024;
  int k = 10;
  int permutations = 10;
  int t = -1;  // the diffusion step the probe is noised to; -1: a quarter of the steps
  std::uint64_t seed = 0;
  bool seed_given = false;
  bool no_ema = false;
};
int run_align(const AlignArgs& args);

struct BenchArgs {
  std::int64_t min_bytes = 1024, max_bytes = 64 << 20;
  int iters = 50;
  double bucket_mb = 25;         // carnot's path cuts the buffer into gradient buckets of this size
  std::string backend = "mpi";   // nccl: device buffers, against raw ncclAllReduce
};
int run_bench_allreduce(Comm& comm, const BenchArgs& args);
int run_bench_allreduce_nccl(Comm& comm, const BenchArgs& args);  // throws where NCCL was not built
struct BenchStepArgs {
  std::string job;
  std::vector<std::string> overrides;
  std::int64_t steps = 50, warmup = 10;
  bool profile = false;  // also time each op (debug/op_profiler.h) and print where the step goes
};
int run_bench_step(Comm& comm, const DeviceChoice& device, const BenchStepArgs& args);
// Rank 0 reads the job spec and every rank parses the same text, so a bad spec fails on all
// ranks alike (the error is marked as raised on all ranks).
struct JobSpec;
JobSpec load_spec_on_all_ranks(Comm& comm, const std::string& path,
                               const std::vector<std::string>& overrides);
int run_sample(Comm& comm, const SampleArgs& args);

// The checkpoint folder that --ckpt names: itself if it holds state.json, else the newest good
// checkpoint of the run folder. Throws UsageError saying what is missing.
std::string resolve_checkpoint(const std::string& ckpt);

// Sets this rank's BLAS threads from the environment and the ranks sharing its node.
void configure_threads(const Comm& comm);

}  // namespace carnot
