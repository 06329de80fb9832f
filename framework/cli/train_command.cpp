// carnot train JOB.yaml [--set k=v]... [--run-dir DIR] [--resume auto|never|CHECKPOINT]
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>

#include "framework/cli/commands.h"
#include "framework/core/error.h"
#include "framework/dist/agree.h"
#include "framework/dist/launcher.h"
#include "framework/dist/watchdog.h"
#include "framework/io/file_util.h"
#include "framework/io/job_spec.h"
#include "framework/train/checkpoint.h"
#include "framework/train/preemption.h"
#include "framework/train/trace.h"
#include "framework/train/train_device.h"
#include "framework/train/trainer.h"
#include "kernels/cpu/threads.h"

namespace carnot {

namespace fs = std::filesystem;

JobSpec load_spec_on_all_ranks(Comm& comm, const std::string& path,
                               const std::vector<std::string>& overrides) {
  std::string text;
  run_on_root_and_agree(comm, [&] {
    try {
      text = read_file(path);
    } catch (const Error& e) {
      throw UsageError(std::string("cannot read job spec: ") + e.what());
    }
  });
  text = broadcast_string(comm, text);
  try {
    return parse_job_spec(text, path, overrides);
  } catch (Error& e) {
    e.mark_on_all_ranks();
    throw;
  }
}

namespace {

// Refuses to continue a run whose saved spec differs in anything that changes the training.
void check_spec_compatible(const std::string& saved_path, const JobSpec& now) {
  if (!fs::exists(saved_path)) return;
  const std::vector<std::string> diffs = resume_incompatibilities(load_job_spec(saved_path), now);
  if (diffs.empty()) return;
  std::string msg = "cannot resume: the job spec differs from " + saved_path + " in";
  for (const std::string& d : diffs) msg += "\n  " + d;
  throw UsageError(msg + "\n(only train.steps, log.*, checkpoint.*, sample.*, distributed.*, diagnostics.*, debug.* and train.trace* may change; use another "
                         "--run-dir, or --resume never in an empty folder, for a new run)");
}

bool folder_has_files(const std::string& dir) {
  std::error_code ec;
  return fs::exists(dir, ec) && !fs::is_empty(dir, ec);
}

// Rank 0's choice of what to resume from ("" for a fresh start), with the lines to log.
std::string choose_resume(const TrainArgs& args, const std::string& dir, const JobSpec& spec,
                          std::vector<std::string>& notes) {
  if (args.resume == "never") {
    if (folder_has_files(dir))
      throw UsageError("--resume never: run folder '" + dir + "' is not empty (use --resume auto "
                       "to continue it, or another --run-dir)");
    return "";
  }
  if (args.resume != "auto") {
    const std::string problem = verify_checkpoint(args.resume);
    if (!problem.empty())
      throw UsageError("--resume " + args.resume + ": not a usable checkpoint: " + problem);
    check_spec_compatible(args.resume + "/job.yaml", spec);
    return args.resume;
  }
  check_spec_compatible(dir + "/job.yaml", spec);
  std::vector<std::string> skipped;
  const auto good = newest_good_checkpoint(dir, &skipped);
  for (const std::string& s : skipped) notes.push_back("carnot: skipping checkpoint " + s);
  if (!good && has_checkpoints(dir)) {
    std::string why;
    for (const std::string& s : skipped) why += "\n  " + s;
    throw Error("no checkpoint in '" + dir + "/checkpoints' verifies:" + why +
                "\nmove them away to start afresh, or train into another --run-dir");
  }
  return good ? *good : "";
}

// In-place progress only on a terminal, and not under a launcher: mpirun hands its ranks a
// pseudo-terminal even when its own output goes to a file. CARNOT_PROGRESS=live|plain decides.
bool live_progress() {
  if (const char* mode = std::getenv("CARNOT_PROGRESS")) return std::string(mode) == "live";
  return ::isatty(STDOUT_FILENO) == 1 && !detect_launch_env().multi_process();
}

}  // namespace

int run_train(Comm& comm, const DeviceChoice& device, const TrainArgs& args) {
  // From the start, so that a signal while loading or resuming is a request to stop, not death.
  install_preemption_handlers();
  const JobSpec spec = load_spec_on_all_ranks(comm, args.job, args.overrides);
  if (spec.debug.fault_kind != "none" && spec.debug.fault_rank >= comm.size())
    throw_on_all_ranks(UsageError(str_cat(args.job, ": debug.fault.rank ", spec.debug.fault_rank,
                                          " does not exist in a run of ", comm.size(), " rank(s)")));
  if (spec.model.kind == "exact")
    throw_on_all_ranks(UsageError(args.job + ": model.kind exact has nothing to train; sample it with carnot sample --job " +
                                  args.job));
  const std::string dir = args.run_dir.empty() ? "runs/" + spec.name : args.run_dir;
  std::unique_ptr<RunFolder> folder;
  std::string resume_from;
  std::vector<std::string> notes;
  run_on_root_and_agree(comm, [&] {
    resume_from = choose_resume(args, dir, spec, notes);
    folder = std::make_unique<RunFolder>(dir, live_progress());
    folder->write_spec(job_spec_to_yaml(spec));
  });
  resume_from = broadcast_string(comm, resume_from);
  if (folder) {
    for (const std::string& n : notes) folder->log(n);
    folder->log(str_cat("carnot: ", comm.size(), " rank(s) × ", cpu::threads(),
                        " BLAS thread(s); run folder ", dir));
  }

  // The trainer's buffers live on the device and go through its communicator (NCCL on a GPU);
  // agreement among the ranks on host values keeps to `comm`.
  TrainDevice on = make_train_device(device, comm, spec.distributed.backend, args.job);
  Trainer trainer(spec, *on.comm, *on.ops);
  if (!resume_from.empty()) {
    run_on_root_and_agree(comm, [&] { load_checkpoint(resume_from, trainer); });
    // Every rank continues from rank 0's restored state.
    std::int64_t step = trainer.step();
    comm.broadcast(&step, sizeof step, 0);
    for (const Tensor& t : {trainer.weights(), trainer.ema_weights()})
      on.comm->broadcast(t.raw(), std::int64_t(t.bytes()), 0);
    trainer.scatter_optimizer_state();  // under ZeRO each rank takes its shard
    trainer.set_step(step);
    if (folder) folder->log(str_cat("carnot: resuming from ", resume_from, " at step ", step));
  } else {  // a fresh start: every rank begins from rank 0's initial weights
    for (const Tensor& t : {trainer.weights(), trainer.ema_weights()})
      on.comm->broadcast(t.raw(), std::int64_t(t.bytes()), 0);
  }
  if (trainer.step() >= spec.train.steps) {
    if (folder)
      folder->log(str_cat("carnot: the run is already at step ", trainer.step(), " of ",
                          spec.train.steps, "; nothing to train"));
    return 0;
  }

  std::unique_ptr<Trace> trace;
  if (spec.train.trace) {
    std::error_code ec;
    fs::create_directories(dir + "/trace", ec);
    if (ec) throw Error("cannot create '" + dir + "/trace': " + ec.message());
    trace = std::make_unique<Trace>(str_cat(dir, "/trace/rank", comm.rank(), ".json"), comm.rank(),
                                    spec.train.trace_steps);
    trainer.set_trace(trace.get());
  }
  Watchdog watchdog(comm.rank(), double(spec.distributed.timeout_s));
  trainer.set_heartbeat([&](const char* doing, std::int64_t step) { watchdog.beat(doing, step); });
  trainer.set_stop_request([] { return preemption_signal() != 0; });
  Checkpointer checkpointer(dir, spec.checkpoint.keep);
  trainer.run(folder.get(), [&](std::int64_t step) {
    trainer.heartbeat("writing a checkpoint");
    TraceSpan span(trace.get(), "checkpoint", step - 1);
    const Tensor weights = trainer.weights();
    Buffer host_weights(weights.dtype(), weights.shape());  // the hash reads host memory
    copy_bytes(host_weights.tensor(), weights);
    check_replicas_identical(comm, host_weights.tensor().raw(), std::int64_t(weights.bytes()),
                             str_cat("the weights at step ", step));
    trainer.gather_optimizer_state();  // under ZeRO, the shards' moments to rank 0
    std::string saved;
    run_on_root_and_agree(comm, [&] {
      saved = checkpointer.save(trainer, comm.size());
      folder->log(str_cat("carnot: checkpoint ", saved, " (step ", step, ")"));
    });
    // Image models: a grid from these EMA weights, sampled by every rank.
    if (spec.sample.every > 0 && (step % spec.sample.every == 0 || step == spec.train.steps)) {
      trainer.heartbeat("sampling a grid");
      saved = broadcast_string(comm, saved);
      SampleArgs grid;
      grid.ckpt = saved;
      grid.n = spec.sample.n;
      grid.device = device.guarded ? DeviceChoice{} : device;  // one guarded device at a time: the trainer's
      grid.sampler = spec.sample.steps > 0 && !spec.diffusion.continuous() ? "ddim" : "";
      grid.steps = int(spec.sample.steps);
      grid.out = {str_cat(dir, "/samples/", checkpoint_dir_name(step), ".png")};
      run_on_root_and_agree(comm, [&] { fs::create_directories(dir + "/samples"); });
      run_sample(comm, grid);
      if (folder) folder->image("samples", step, grid.out[0]);
      if (folder)
        folder->log(str_cat("carnot: sample grid ", grid.out[0], " (step ", step, ", EMA weights, ",
                            grid.sampler.empty() ? std::string("the model's sampler") : str_cat("DDIM ", grid.steps, " steps"), ")"));
    }
  });
  if (trace) {
    trace->close();
    if (folder)
      folder->log(str_cat("carnot: timeline of the first ", spec.train.trace_steps, " steps in ", dir,
                          "/trace/rank*.json (open in https://ui.perfetto.dev)"));
  }
  if (trainer.stopped_early() && trainer.step() < spec.train.steps) {
    if (folder)
      folder->log(str_cat("carnot: stopping at step ", trainer.step(), " of ", spec.train.steps, ": ",
                          preemption_signal() ? signal_name(preemption_signal()) : "a stop signal", " on ",
                          trainer.stop_ranks(), " of ", comm.size(), " rank(s); checkpoint written; exit ",
                          int(ExitCode::kRequeue), " (requeue, then rerun the same command to continue)"));
    return int(ExitCode::kRequeue);
  }
  if (folder)
    folder->log(str_cat("carnot: final loss ", std::to_string(trainer.losses().back()), " at step ",
                        trainer.step()));
  return 0;
}

}  // namespace carnot
