// carnot: one binary, subcommands train and sample.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "framework/core/device.h"
#include <iostream>

#include "framework/cli/commands.h"
#include "framework/core/error.h"
#include "framework/dist/launcher.h"
#include "kernels/cpu/threads.h"

namespace carnot {

void configure_threads(const Comm& comm) { cpu::set_threads(default_threads_per_rank(comm.local_size())); }

namespace {

struct ModelOptions {
  CLI::Option* ckpt;
  CLI::Option* job;
};

// --ckpt RUN_OR_CHECKPOINT, or --job JOB.yaml [--set k=v]... for an exact model (not both).
ModelOptions add_model_options(CLI::App* cmd, std::string& ckpt, std::string& job,
                               std::vector<std::string>& overrides) {
  ModelOptions o{cmd->add_option("--ckpt", ckpt, "Run folder (its newest good checkpoint) or checkpoint folder"),
                 cmd->add_option("--job", job, "Job spec of an exact model (model.kind: exact), no checkpoint")};
  cmd->add_option("--set", overrides, "Override a key of --job (YAML value)")->needs(o.job);
  o.ckpt->excludes(o.job);
  return o;
}

}  // namespace
}  // namespace carnot

int main(int argc, char** argv) {
  using namespace carnot;
  CLI::App app{"Carnot: data-parallel training of diffusion models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "carnot 0.1.0");

  TrainArgs train;
  CLI::App* train_cmd = app.add_subcommand("train", "Train the model a job spec describes");
  train_cmd->add_option("job", train.job, "Job spec (YAML)")->required();
  train_cmd->add_option("--set", train.overrides, "Override a key: --set train.lr=2e-4 (YAML value)");
  train_cmd->add_option("--run-dir", train.run_dir, "Run folder (default runs/<name>)");
  train_cmd->add_option("--resume", train.resume,
                        "auto: continue from the newest good checkpoint (default); never: refuse "
                        "a non-empty run folder; or a checkpoint folder to start from");

  std::string device_mode = "auto";
  app.add_option("--device", device_mode,
                 "auto (a usable GPU, else the CPU), cpu, cuda, or guarded (for developers: the GPU code path on "
                 "the CPU with device memory behind page protection)")
      ->check(CLI::IsMember({"auto", "cpu", "cuda", "guarded"}));

  SampleArgs sample;
  CLI::App* sample_cmd = app.add_subcommand("sample", "Draw samples from a trained run");
  const ModelOptions sample_model = add_model_options(sample_cmd, sample.ckpt, sample.job, sample.overrides);
  sample_cmd->add_option("--sampler", sample.sampler,
                         "ddpm (ancestral), ddim, euler or heun (probability-flow ODE); for EDM models "
                         "heun or euler in σ; for flow models flow_euler (default: the first of these)")
      ->check(CLI::IsMember({"ddpm", "ddim", "euler", "heun", "flow_euler"}));
  sample_cmd->add_option("--steps", sample.steps,
                         "Sampling steps, evenly spaced over the training steps (default: all; for flow "
                         "and EDM models diffusion.steps)")
      ->check(CLI::PositiveNumber);
  sample_cmd->add_option("--eta", sample.eta, "DDIM's eta: 0 deterministic (default), 1 ancestral")
      ->check(CLI::Range(0.0, 1.0));
  sample_cmd->add_flag("--no-ema", sample.no_ema, "Use the live weights instead of the EMA");
  sample_cmd->add_option("-n", sample.n, "Number of samples")->check(CLI::Range(std::int64_t(1), std::int64_t(1) << 30));
  sample_cmd->add_option("--out", sample.out,
                         "Output file, repeatable: .npy (float32, N × D, data units) or .png (2-D "
                         "data: the samples beside fresh data)")->required();
  auto* seed_opt = sample_cmd->add_option("--seed", sample.seed, "Sampling seed (default: the job's seed)");
  sample_cmd->add_option("--class", sample.class_label,
                         "Class-conditional models: a class index, all (one block per class: the default) or null");
  sample_cmd->add_option("--cfg-scale", sample.cfg_scale, "Classifier-free guidance scale with --class K (1: none)")
      ->check(CLI::Range(0.0, 100.0));
  sample_cmd->add_option("--quality-gate", sample.quality_gate,
                         "Exit 1 if the quality ratio (sliced W1 / data-vs-data) exceeds this")
      ->check(CLI::PositiveNumber);

  ValidateArgs validate;
  CLI::App* validate_cmd = app.add_subcommand("validate", "Check a job spec and print its plan");
  validate_cmd->add_option("job", validate.job, "Job spec (YAML)")->required();
  validate_cmd->add_option("--set", validate.overrides, "Override a key (YAML value)");
  validate_cmd->add_option("--ranks", validate.ranks, "Plan for this many ranks (default: this launch's)")
      ->check(CLI::PositiveNumber);

  EvalArgs eval;
  CLI::App* eval_cmd = app.add_subcommand("eval", "Evaluate a model: --metric nll, the variational bound in bits");
  const ModelOptions eval_model = add_model_options(eval_cmd, eval.ckpt, eval.job, eval.overrides);
  eval_cmd->add_flag("--no-ema", eval.no_ema, "Use the live weights instead of the EMA");
  eval_cmd->add_flag("--per-step", eval.per_step, "Print each term of the bound (decoder, every step, prior)");
  eval_cmd->add_option("--t-samples", eval.t_samples,
                        "Estimate the sum over t from this many random t per point (default: every t)")
      ->check(CLI::PositiveNumber);
  eval_cmd->add_option("--metric", eval.metric, "nll")->check(CLI::IsMember({"nll"}));
  eval_cmd->add_option("-n", eval.n, "Fresh data points")->check(CLI::Range(std::int64_t(1), std::int64_t(1) << 30));
  auto* eval_seed = eval_cmd->add_option("--seed", eval.seed, "Evaluation seed (default: the job's)");

  InspectArgs inspect;
  CLI::App* inspect_cmd = app.add_subcommand("inspect", "Show a run's checkpoints, a checkpoint or a safetensors file");
  inspect_cmd->add_option("path", inspect.path, "Run folder, checkpoint folder or .safetensors file")->required();

  ExportArgs export_args;
  CLI::App* export_cmd = app.add_subcommand("export", "A DiT's weights as the reference's state dict (safetensors)");
  export_cmd->add_option("--ckpt", export_args.ckpt, "Run or checkpoint folder")->required();
  export_cmd->add_option("--out", export_args.out, "Output .safetensors file")->required();
  export_cmd->add_flag("--no-ema", export_args.no_ema, "The live weights instead of the EMA");
  ForwardArgs forward;
  CLI::App* forward_cmd = app.add_subcommand("forward", "One DiT evaluation on given inputs (.npy in, .npy out)");
  forward_cmd->add_option("--ckpt", forward.ckpt, "Run or checkpoint folder, or an exported .safetensors")->required();
  forward_cmd->add_option("--x", forward.x, "Inputs N×C×H×W float32 (.npy)")->required();
  forward_cmd->add_option("--t", forward.t, "Times N float32 (.npy), in the model's time units")->required();
  forward_cmd->add_option("--y", forward.y, "Class labels N int64 (.npy), for class-conditional models");
  forward_cmd->add_option("--out", forward.out, "Output .npy")->required();
  forward_cmd->add_flag("--no-ema", forward.no_ema, "A checkpoint's live weights instead of the EMA");

  AlignArgs align;
  CLI::App* align_cmd = app.add_subcommand(
      "align", "Representation alignment of two models (linear CKA, mutual kNN, permutation null); last line JSON");
  align_cmd->add_option("--ckpt", align.ckpts, "Run or checkpoint folder; give it twice")->required();
  align_cmd->add_option("--layer", align.layer, "Feature layer, e.g. blocks.2 (default: each model's middle block)");
  align_cmd->add_option("--data", align.data, "Job spec whose data are the probe (default: the first model's)");
  align_cmd->add_option("-n", align.n, "Probe points")->check(CLI::Range(std::int64_t(3), std::int64_t(20000)));
  align_cmd->add_option("-k", align.k, "Neighbours for mutual kNN")->check(CLI::Range(1, 1000));
  align_cmd->add_option("--permutations", align.permutations, "Shuffles for the null")->check(CLI::Range(0, 10000));
  align_cmd->add_option("--t", align.t, "Diffusion step the probe is noised to (default: a quarter of the steps)")
      ->check(CLI::NonNegativeNumber);
  auto* align_seed = align_cmd->add_option("--seed", align.seed, "Probe seed (default: the data job's)");
  align_cmd->add_flag("--no-ema", align.no_ema, "The live weights instead of the EMA");

  BenchArgs bench;
  CLI::App* bench_cmd = app.add_subcommand("bench", "Measure the engine against its peers");
  CLI::App* bench_allreduce = bench_cmd->add_subcommand(
      "allreduce", "Carnot's gradient all-reduce against raw MPI_Allreduce, per message size (JSON lines; run under mpirun)");
  bench_cmd->require_subcommand(1);
  BenchStepArgs bench_step;
  CLI::App* bench_step_cmd = bench_cmd->add_subcommand(
      "step", "A training step's compute and exposed communication, overlap on and off (JSON lines; run under mpirun)");
  bench_step_cmd->add_option("job", bench_step.job, "Job spec (YAML)")->required();
  bench_step_cmd->add_option("--set", bench_step.overrides, "Override a key (YAML value)");
  bench_step_cmd->add_option("--steps", bench_step.steps, "Steps measured")->check(CLI::Range(1, 1000000));
  bench_step_cmd->add_option("--warmup", bench_step.warmup, "Steps before measuring")->check(CLI::Range(1, 1000000));
  bench_step_cmd->add_flag("--profile", bench_step.profile,
                           "Also time every op and print the table (ms per step, calls, share), largest first");
  bench_allreduce->add_option("--min", bench.min_bytes, "Smallest message, bytes (suffix K or M allowed)")
      ->transform(CLI::AsSizeValue(false));
  bench_allreduce->add_option("--max", bench.max_bytes, "Largest message, bytes (sizes double from --min)")
      ->transform(CLI::AsSizeValue(false));
  bench_allreduce->add_option("--iters", bench.iters, "Calls per size and path (fewer for large messages)")
      ->check(CLI::Range(1, 100000));
  bench_allreduce->add_option("--bucket-mb", bench.bucket_mb, "Carnot's gradient bucket size, MiB (as distributed.bucket_mb)")
      ->check(CLI::Range(1.0 / 1024, 1024.0));
  bench_allreduce->add_option("--backend", bench.backend, "mpi (host buffers) or nccl (device buffers, one GPU per rank)")
      ->check(CLI::IsMember({"mpi", "nccl"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : int(ExitCode::kUsage);
  }
  sample.seed_given = seed_opt->count() > 0;
  eval.seed_given = eval_seed->count() > 0;
  align.seed_given = align_seed->count() > 0;

  for (const auto& [cmd, model] : {std::pair{sample_cmd, sample_model}, std::pair{eval_cmd, eval_model}})
    if (*cmd && model.ckpt->count() + model.job->count() != 1) {
      std::fprintf(stderr, "carnot %s: give --ckpt RUN_OR_CHECKPOINT, or --job JOB.yaml for an exact model\n",
                   cmd->get_name().c_str());
      return int(ExitCode::kUsage);
    }

  std::unique_ptr<Comm> comm;
  try {
    if (*inspect_cmd) return run_inspect(inspect);  // reads files only: no MPI, no device
    if (*export_cmd) return run_export(export_args);
    if (*forward_cmd) return run_forward(forward);
    if (*align_cmd) return run_align(align);  // one process: reads two checkpoints
    comm = make_comm_from_environment();
    if (*validate_cmd) return run_validate(*comm, validate);
    if (*bench_allreduce) return run_bench_allreduce(*comm, bench);
    configure_threads(*comm);
    const DeviceChoice device = choose_device(device_mode, comm->local_rank());
    if (comm->rank() == 0)
      std::printf("carnot: device: %s\n", device.description.c_str());
    std::fflush(stdout);  // before any error on stderr
    if (*bench_step_cmd) return run_bench_step(*comm, device, bench_step);
    if (*train_cmd) return run_train(*comm, device, train);
    eval.device = sample.device = device;
    if (*eval_cmd) return run_eval(*comm, eval);
    return run_sample(*comm, sample);
  } catch (const Error& e) {
    const int code = int(e.code());
    if (!comm || comm->size() == 1 || e.on_all_ranks()) {
      // Every rank knows; rank 0 speaks and all exit together.
      if (!comm || comm->rank() == 0) std::fprintf(stderr, "carnot: error: %s\n", e.what());
      return code;
    }
    std::fprintf(stderr, "carnot: rank %d: error: %s\n", comm->rank(), e.what());
    std::fflush(stderr);
    comm->abort(code);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "carnot: %s%s: internal error: %s\n", comm ? "rank " : "",
                 comm ? std::to_string(comm->rank()).c_str() : "", e.what());
    std::fflush(stderr);
    if (comm && comm->size() > 1) comm->abort(1);
    return 1;
  }
}
