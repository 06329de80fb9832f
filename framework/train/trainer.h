// Trainer: builds the model, diffusion, optimizer and EMA from a job spec and runs the
// data-parallel step loop over a Comm.
//
// step s: global batch [s·B, (s+1)·B) → this rank's contiguous slice (the first B mod R ranks take
// one more) → in train.grad_accum contiguous pieces: data, t and ε from Philox keyed by global
// sample index → forward → loss (sum over the piece / B) → backward, gradients adding up → one
// all-reduce of the flat gradient → clip → optimizer (AdamW or SGD) → EMA.
//
// distributed.zero 1 (ZeRO stage 1, Rajbhandari et al. 2020): rank r owns shard r of the flat
// parameters (shard_counts) and keeps the optimizer state for it alone. The gradient is
// reduce-scattered rather than all-reduced, clipped by the norm of the whole (the shards' squares
// summed in the step's scalar all-reduce), the optimizer updates the shard, and the weights are
// all-gathered: the same arithmetic as zero 0, with optimizer memory 1/R per rank.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "framework/data/dataset.h"
#include "framework/diagnostics/diagnostic_groups.h"
#include "framework/diagnostics/noise_scale.h"
#include "framework/diagnostics/report.h"
#include "framework/diffusion/eps_objective.h"
#include "framework/diffusion/edm.h"
#include "framework/diffusion/flow_matching.h"
#include "framework/diffusion/learned_betas.h"
#include "framework/diffusion/objective.h"
#include "framework/diffusion/schedule.h"
#include "framework/diffusion/vlb_loss.h"
#include "framework/dist/comm.h"
#include "framework/dist/grad_buckets.h"
#include "framework/io/job_spec.h"
#include "framework/optim/optimizer.h"
#include "framework/optim/ema.h"
#include "framework/train/networks.h"
#include "framework/train/prefetch.h"
#include "framework/train/run_folder.h"
#include "framework/train/staged.h"
#include "framework/train/trace.h"

namespace carnot {

// The half-open range of a batch that rank `rank` of `world` takes.
struct Slice {
  std::int64_t begin = 0, count = 0;
};
Slice batch_slice(std::int64_t batch, int rank, int world);

class Trainer {
 public:
  // Everything the step touches lives where `ops` computes (device_of(ops)): the model, the
  // gradients, the optimizer state, the EMA. Data arrives on the host and is copied over; the ε
  // objective's inputs are drawn there (Ops::q_sample_eps), and what only the CPU computes (flow
  // and EDM inputs, x0 or v targets, Min-SNR weights, the bound) goes through host staging. On a
  // device, `comm` must take device pointers (NcclComm).
  Trainer(const JobSpec& spec, Comm& comm, Ops& ops);

  // Called with the number of steps completed every checkpoint.every steps and at the end.
  using CheckpointFn = std::function<void(std::int64_t step)>;

  // Runs from the current step up to train.steps. On rank 0, logs to `folder` when given (null:
  // quiet, for tests).
  void run(RunFolder* folder, const CheckpointFn& checkpoint = nullptr);

  // The gradient buckets (null with distributed.bucket_mb 0).
  const GradBuckets* buckets() const { return buckets_.get(); }

  // Asked on every rank at the end of every step: whether this rank wants to stop (a preemption
  // signal). The answers are summed in the step's all-reduce, so all ranks stop after the same
  // step when any asks; run() then checkpoints there (if it has not just) and returns early.
  void set_stop_request(std::function<bool()> wants_stop) { wants_stop_ = std::move(wants_stop); }
  // Told what the trainer is doing at every change (a string literal) and the step; for the watchdog.
  void set_heartbeat(std::function<void(const char*, std::int64_t)> beat) { heartbeat_ = std::move(beat); }
  // Records the steps' phases into `trace` (null: none); the caller owns it.
  void set_trace(Trace* trace) { trace_ = trace; }
  void heartbeat(const char* doing) const {
    if (heartbeat_) heartbeat_(doing, step_ + 1);
  }
  // Whether the last run() ended early on a stop request, and how many ranks asked.
  bool stopped_early() const { return stop_ranks_ > 0; }
  int stop_ranks() const { return stop_ranks_; }

  // Steps completed; set_step after restoring the state below moves the run there.
  std::int64_t step() const { return step_; }
  void set_step(std::int64_t step);
  // The state a checkpoint holds, as views into the trainer's buffers (writable, for restore).
  // params(): the network's store (names and layout); weights(): the float32 weights that train —
  // the store's own values, or under train.precision bf16 the master copy, from which the
  // network's bf16 copy is refreshed after every step and at the start of run().
  ParameterStore& params() { return model_->params(); }
  Tensor weights() const { return bf16_ ? master_.tensor() : model_->params().values(); }
  Tensor ema_weights() const { return ema_->weights(); }
  // The optimizer over this rank's parameters: all of them, or under ZeRO its shard.
  const Optimizer& optimizer() const { return *optimizer_; }
  // Rank r's shard of the flat parameters under ZeRO, [shard_begin, +shard_counts[r]); without
  // ZeRO one shard of everything.
  const std::vector<std::int64_t>& shard_counts() const { return shard_counts_; }
  std::int64_t shard_begin() const { return shard_begin_; }
  // The optimizer's state tensor i (optimizer().state_names()[i]) over every parameter, as
  // checkpoints hold it (whatever the sharding). Without ZeRO it is the optimizer's own. Under ZeRO
  // it is a staging copy on rank 0 (an empty tensor elsewhere): gather_optimizer_state() fills it
  // from every rank's shard, and scatter_optimizer_state() hands it back out; both are collective.
  // Without ZeRO, the scatter broadcasts rank 0's state and the gather does nothing.
  Tensor whole_state(std::size_t i);
  void gather_optimizer_state();
  void scatter_optimizer_state();
  const JobSpec& spec() const { return spec_; }

  // Seconds this rank has spent waiting for communication (the gradient collectives' end, the
  // step's scalar all-reduce, ZeRO's all-gather): the exposed part, not hidden behind backward.
  double comm_wait_seconds() const { return comm_wait_s_; }

  // The global loss of every step taken.
  const std::vector<double>& losses() const { return losses_; }
  // diagnostics: the last step's gradient noise scale estimate (none before the first, or where
  // unavailable: one rank without micro-batches) and the smoothed B_simple.
  const std::optional<NoiseScale>& noise_scale() const { return noise_; }
  const NoiseScaleTracker& noise_tracker() const { return noise_tracker_; }
  // diagnostics: per parameter tensor (in the store's order), the squared norms of the weights and
  // of the reduced gradient before clipping, at the last diagnostic step.
  std::vector<double> layer_weight_squares() const { return tensors_only(diag_.weight_sq); }
  std::vector<double> layer_grad_squares() const { return tensors_only(diag_.grad_sq); }
  // diagnostics: the groups measured (tensors, symmetric pairs, scale-invariant groups), what the
  // last diagnostic step measured of them, and its metrics (diagnostics/report.h).
  const DiagnosticGroups& diagnostic_groups() const { return diag_groups_; }
  const GroupMeasurements& diagnostic_measurements() const { return diag_; }
  DiagnosticsReport diagnostics_report() const;
  // Seconds this rank has spent on diagnostics (measuring and, on rank 0, writing them).
  double diagnostics_seconds() const { return diag_s_; }
  const ScoreNetwork& model() const { return *model_; }
  const Ema& ema() const { return *ema_; }

 private:
  double step(std::uint32_t s, double* grad_norm);
  // Samples [first, first + n) of step s; the piece (next_step, next_first, next_n) is prefetched
  // meanwhile (next_n 0: none).
  double micro_step(std::uint32_t s, std::uint32_t first, std::int64_t n, std::uint32_t next_step,
                    std::int64_t next_n, std::uint32_t next_first);
  double simple_loss(std::int64_t n, std::int64_t dim, const Tensor& pred, double scale, const Tensor& dpred);

  JobSpec spec_;
  Comm& comm_;
  Ops& ops_;
  Slice slice_;
  std::unique_ptr<Dataset> data_;
  std::unique_ptr<DataPrefetch> prefetch_;  // after data_: destroyed (waiting for its fill) first
  NoiseSchedule schedule_;       // with learned β: rebuilt from the logits at every step
  NoiseSchedule base_schedule_;  // the spec's schedule, which learned β perturb
  std::unique_ptr<ScoreNetwork> model_;
  bool learned_betas_ = false;        // the network carries the schedule's logits
  std::vector<std::int64_t> labels_;  // this micro-batch's class labels (labelled data only)
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<Ema> ema_;
  Prediction prediction_;  // VP objectives; unused for flow
  BoundLossConfig loss_;
  FlowTimes flow_times_;
  EdmConfig edm_;
  Device device_ = Device::kCpu;  // where ops_ computes
  Buffer alphas_cumprod_;          // the discrete schedule's ᾱ on the device, for q_sample_eps
  Staged x0_, t_, eps_, x_t_, pred_, dpred_, target_, weights_;
  Buffer labels_on_device_;        // 8-byte slots for the labels when the model is on a device
  Buffer dx_;                      // learned β: the network's input gradient (CPU only)
  // train.precision bf16: the float32 master weights and gradient sum beside the network's bf16
  // ones, and the network's bf16 input, output and output gradient.
  bool bf16_ = false;
  Buffer master_, grad_sum32_, x_t16_, pred16_, dpred16_;
  std::int64_t converted_ = 0;  // bf16: the gradient converted into the sum so far this piece
  Tensor grad_sum() const { return bf16_ ? grad_sum32_.tensor() : model_->params().grads(); }
  void add_network_gradient(std::int64_t end);  // bf16: [converted_, end) into the sum
  void refresh_network_weights();               // bf16: master → the network's copy
  std::vector<double> losses_;
  std::int64_t step_ = 0;
  std::function<bool()> wants_stop_;
  std::function<void(const char*, std::int64_t)> heartbeat_;
  Trace* trace_ = nullptr;
  std::unique_ptr<GradBuckets> buckets_;  // null: one all-reduce after backward
  bool zero_ = false;
  std::vector<std::int64_t> shard_counts_;
  std::int64_t shard_begin_ = 0;
  Buffer shard_grads_;                 // ZeRO: this rank's summed gradient shard
  std::vector<Buffer> whole_state_;    // ZeRO, rank 0: the optimizer's state over all, for checkpoints
  int stop_ranks_ = 0;
  double comm_wait_s_ = 0;
  // diagnostics
  std::optional<NoiseScale> noise_;
  NoiseScaleTracker noise_tracker_{0.9};
  Buffer diag_prev_;  // one rank, micro-batches: the gradient before the current piece
  DiagnosticGroups diag_groups_;
  GroupMeasurements diag_;
  std::vector<std::string> diag_notes_said_;
  std::vector<double> step_scalars_;  // the step's small all-reduce
  double diag_s_ = 0;
  void measure_groups();
  std::vector<double> tensors_only(const std::vector<double>& v) const {
    const std::size_t n = std::min(v.size(), diag_groups_.tensors());
    return std::vector<double>(v.begin(), v.begin() + std::ptrdiff_t(n));
  }
  bool diagnostic_step(std::uint32_t s) const {
    return spec_.diagnostics.every > 0 && (std::int64_t(s) + 1) % spec_.diagnostics.every == 0;
  }
  std::chrono::steady_clock::time_point module_start_;  // the timeline's current backward module
};

}  // namespace carnot
