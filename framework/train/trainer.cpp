#include "framework/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <thread>

#include "framework/core/random.h"
#include "framework/optim/grad_clip.h"
#include "framework/optim/lr_schedule.h"

namespace carnot {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Adds the seconds of its scope to `total`.
class Stopwatch {
 public:
  explicit Stopwatch(double& total) : total_(total), start_(Clock::now()) {}
  ~Stopwatch() { total_ += seconds_since(start_); }
  Stopwatch(const Stopwatch&) = delete;
  Stopwatch& operator=(const Stopwatch&) = delete;

 private:
  double& total_;
  Clock::time_point start_;
};

std::string format_duration(double s) {
  char buf[32];
  const long total = long(std::llround(s));
  if (total >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", total / 3600, total / 60 % 60);
  else if (total >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", total / 60, total % 60);
  else
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

}  // namespace

// model.pair_init_scale: u → c·u, w → w/c for every rescaling pair (the function is unchanged).
// Once, at the start: the weights go through the host.
static void scale_pairs(const Symmetries& symmetries, double c, const Tensor& weights) {
  if (symmetries.pairs.empty())
    throw UsageError("model.pair_init_scale: this model has no rescaling pairs (an MLP needs model.activation relu "
                     "without model.layer_norm; a U-Net needs attention_resolutions)");
  Buffer host(DType::F32, weights.shape());
  copy_bytes(host.tensor(), weights);
  float* w = host.data<float>();
  for (const RescalingPair& p : symmetries.pairs) {
    for (const FlatRange& r : p.u.ranges)
      for (std::int64_t i = r.begin; i < r.end; ++i) w[i] = float(w[i] * c);
    for (const FlatRange& r : p.w.ranges)
      for (std::int64_t i = r.begin; i < r.end; ++i) w[i] = float(w[i] / c);
  }
  copy_bytes(weights, host.tensor());
}

Slice batch_slice(std::int64_t batch, int rank, int world) {
  const std::int64_t base = batch / world, extra = batch % world;
  return Slice{rank * base + std::min<std::int64_t>(rank, extra), base + (rank < extra ? 1 : 0)};
}

Trainer::Trainer(const JobSpec& spec, Comm& comm, Ops& ops)
    : spec_(spec),
      comm_(comm),
      ops_(ops),
      slice_(batch_slice(spec.train.global_batch, comm.rank(), comm.size())),
      data_(make_dataset(spec.data, spec.train.global_batch)),
      schedule_(make_schedule(spec.diffusion)),
      base_schedule_(schedule_),
      prediction_(spec.diffusion.continuous() ? Prediction::kEps : prediction_of(spec.diffusion.objective)),
      loss_{loss_kind_of(spec.diffusion.loss), reverse_variance_of(spec.diffusion.variance),
            spec.diffusion.vlb_weight},
      flow_times_(FlowTimes::from_spec(spec.diffusion)),
      edm_(EdmConfig::from_spec(spec.diffusion, data_std(spec.data))) {
  device_ = device_of(ops);
  const std::int64_t dim = data_->dim();
  // Buffers for one micro-batch: the first of the grad_accum pieces is the largest.
  const std::int64_t rows = std::max<std::int64_t>(1, batch_slice(slice_.count, 0, int(spec.train.grad_accum)).count);
  bf16_ = spec.train.precision == "bf16";
  model_ = make_score_network(spec, ops, rows, spec.seed, bf16_ ? DType::BF16 : DType::F32);
  const std::int64_t outputs = model_->outputs();
  learned_betas_ = model_->beta_logits().raw() != nullptr;
  if (learned_betas_ && device_ != Device::kCpu)
    throw UsageError("diffusion.betas learned trains on the CPU only (its gradient runs through host code); "
                     "run with --device cpu");
  if (learned_betas_ && bf16_)
    throw UsageError("diffusion.betas learned trains in train.precision fp32 only (its gradient is float32 host "
                     "code)");
  if (bf16_) {  // the master weights start from the same draws as the network's bf16 ones
    const ParameterStore& store = model_->params();
    master_ = Buffer(DType::F32, Shape{store.values().numel()}, device_);
    copy_bytes(master_.tensor(), store.initial_values(DType::F32).tensor());
    grad_sum32_ = Buffer(DType::F32, Shape{store.values().numel()}, device_);
    x_t16_ = Buffer(DType::BF16, Shape{rows, dim}, device_);
    pred16_ = Buffer(DType::BF16, Shape{rows, outputs}, device_);
    dpred16_ = Buffer(DType::BF16, Shape{rows, outputs}, device_);
  }
  if (data_->num_classes() > 0) labels_ = std::vector<std::int64_t>(std::size_t(rows));
  if (data_->num_classes() > 0 && device_ != Device::kCpu) labels_on_device_ = Buffer(DType::F64, Shape{rows}, device_);
  prefetch_ = std::make_unique<DataPrefetch>(*data_, spec.seed, rows, spec.data.image());
  if (!spec.diffusion.continuous()) {
    alphas_cumprod_ = Buffer(DType::F64, Shape{std::int64_t(schedule_.alphas_cumprod.size())}, device_);
    copy_bytes(alphas_cumprod_.tensor().raw(), device_, schedule_.alphas_cumprod.data(), Device::kCpu,
               schedule_.alphas_cumprod.size() * sizeof(double));
  }
  const Tensor params = weights();
  if (spec.model.pair_init_scale != 1) scale_pairs(model_->symmetries(), spec.model.pair_init_scale, params);
  zero_ = spec.distributed.zero == 1;
  shard_counts_ = zero_ ? carnot::shard_counts(params.numel(), comm.size()) : std::vector<std::int64_t>{params.numel()};
  for (int r = 0; zero_ && r < comm.rank(); ++r) shard_begin_ += shard_counts_[std::size_t(r)];
  const std::int64_t mine = shard_counts_[zero_ ? std::size_t(comm.rank()) : 0];
  if (zero_) shard_grads_ = Buffer(DType::F32, Shape{mine}, device_);
  optimizer_ = make_optimizer(ops, spec.optimizer, mine);
  whole_state_.resize(optimizer_->state_names().size());
  ema_ = std::make_unique<Ema>(ops, params, spec.train.ema);
  noise_tracker_ = NoiseScaleTracker(spec.diagnostics.noise_scale_ema);
  if (spec.diagnostics.every > 0) diag_groups_ = DiagnosticGroups(model_->params(), model_->symmetries());
  // One rank's micro-batches are the noise scale's groups: each one's gradient is the change it makes.
  if (spec.diagnostics.every > 0 && comm.size() == 1 && spec.train.grad_accum > 1)
    diag_prev_ = Buffer(DType::F32, Shape{params.numel()}, device_);
  x0_ = Staged(rows, dim, device_);
  t_ = Staged(rows, 1, device_);
  eps_ = Staged(rows, dim, device_);
  x_t_ = Staged(rows, dim, device_);
  pred_ = Staged(rows, outputs, device_);
  dpred_ = Staged(rows, outputs, device_);
  target_ = Staged(rows, dim, device_);
  weights_ = Staged(rows, 1, device_);
  if (learned_betas_) dx_ = Buffer(DType::F32, Shape{rows, dim});
  losses_.reserve(std::size_t(spec.train.steps));
  if (spec.distributed.bucket_mb > 0) {
    std::vector<std::int64_t> starts;
    for (const ParamInfo& p : model_->params().params()) starts.push_back(p.offset);
    std::sort(starts.begin(), starts.end());
    const double mib = 1024.0 * 1024.0;
    const auto bytes = std::int64_t(spec.distributed.bucket_mb * mib);
    buckets_ = std::make_unique<GradBuckets>(
        comm, grad_sum().data<float>(),
        plan_buckets(starts, params.numel(), std::max<std::int64_t>(bytes, 4),
                     std::max<std::int64_t>(std::min<std::int64_t>(bytes, 1 << 20), 4)));
    if (zero_) buckets_->reduce_scatter_into(shard_grads_.data<float>(), shard_counts_, comm.rank());
  }
}

// debug.fault: this rank throws, exits abruptly or hangs at the start of step s + 1.
static void inject_fault(const DebugSpec& debug, int rank, std::uint32_t s) {
  if (debug.fault_kind == "none" || rank != debug.fault_rank || std::int64_t(s) + 1 != debug.fault_step) return;
  if (debug.fault_kind == "throw") throw Error(str_cat("debug.fault: an injected error at step ", s + 1));
  std::fprintf(stderr, "carnot: rank %d: debug.fault: %s at step %lld\n", rank,
               debug.fault_kind == "exit" ? "exiting abruptly (code 3)" : "hanging", (long long)s + 1);
  std::fflush(stderr);
  if (debug.fault_kind == "exit") std::_Exit(3);
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

double Trainer::step(std::uint32_t s, double* grad_norm) {
  heartbeat("computing");
  inject_fault(spec_.debug, comm_.rank(), s);
  const Tensor grads = grad_sum();  // float32: the network's own, or under bf16 the sum of its pieces
  // Under bf16 in one piece the conversion writes all of the float32 sum: nothing to clear first.
  if (!bf16_ || spec_.train.grad_accum > 1) ops_.fill_zero(DType::F32, grads.numel(), grads.raw());
  // Every rank holds the same (all-reduced, then updated) logits, so the same schedule.
  if (learned_betas_) schedule_ = learned_schedule(base_schedule_, model_->beta_logits().data<float>());
  // This rank's slice in grad_accum contiguous pieces; gradients add up across them, and samples
  // keep their global indices, so the step is the same computation at any piece count.
  double loss_sum = 0;
  TraceSpan whole(trace_, "step", s);
  if (buckets_) buckets_->begin_step();
  const int pieces = int(spec_.train.grad_accum);
  // diagnostics: the gradient noise scale needs each group's own mean gradient: each rank's (before
  // the reduction overwrites it) or, on one rank, each micro-batch's (the change it makes).
  const bool diag = diagnostic_step(s);
  const bool rank_groups = comm_.size() > 1, piece_groups = comm_.size() == 1 && pieces > 1;
  const bool measure = diag && (rank_groups || piece_groups);
  const double B = double(spec_.train.global_batch);
  // Per group, Σ over the small batches of |G_b|² (each one's mean gradient: the loss is normalised
  // by B, so a batch of b samples contributes its gradient · B/b).
  std::vector<double>& small_sq = diag_.small_sq;
  small_sq.assign(measure ? diag_groups_.size() : 0, 0.0);
  const float* local = grads.data<float>();
  const double rank_scale = slice_.count > 0 ? (B / double(slice_.count)) * (B / double(slice_.count)) : 0.0;
  if (buckets_)
    buckets_->set_before_reduce(measure && rank_groups ? GradBuckets::BeforeReduce([&](std::int64_t lo, std::int64_t hi) {
      Stopwatch watch(diag_s_);
      diag_groups_.add_squares(ops_, local, 0, lo, hi, rank_scale, small_sq);
    }) : nullptr);
  noise_.reset();
  for (int m = 0; m < pieces; ++m) {
    // Buckets start during the last piece's backward only: before it, gradients are partial sums.
    // The timeline gets a span per module of every piece's backward.
    const bool start_buckets = buckets_ && m == pieces - 1;
    const bool trace_modules = trace_ && trace_->recording(s);
    if (start_buckets || trace_modules)
      model_->set_grads_ready([this, s, start_buckets, trace_modules](std::int64_t mark, const char* module) {
        if (trace_modules) {
          trace_->span(module, module_start_, s);
          module_start_ = std::chrono::steady_clock::now();
        }
        if (start_buckets) {
          add_network_gradient(mark);  // bf16: the final part into the float32 sum first
          buckets_->ready_up_to(mark);
        }
      });
    else
      model_->set_grads_ready(nullptr);
    const Slice piece = batch_slice(slice_.count, m, pieces);
    // The piece after this one (the next step's first at the last piece) is fetched meanwhile.
    const bool last = m == pieces - 1;
    const Slice next = batch_slice(slice_.count, last ? 0 : m + 1, pieces);
    const std::uint32_t next_step = last ? s + 1 : s;
    if (measure && piece_groups) {
      Stopwatch watch(diag_s_);
      copy_bytes(diag_prev_.tensor(), grads);
    }
    if (bf16_) {  // each piece's bf16 gradient adds into the float32 sum
      const Tensor g16 = model_->params().grads();
      ops_.fill_zero(DType::BF16, g16.numel(), g16.raw());
      converted_ = 0;
    }
    loss_sum += micro_step(s, std::uint32_t(slice_.begin + piece.begin), piece.count, next_step,
                           std::int64_t(next_step) < spec_.train.steps ? next.count : 0,
                           std::uint32_t(slice_.begin + next.begin));
    add_network_gradient(grads.numel());
    if (measure && piece_groups && piece.count > 0) {  // the piece's gradient: what it added
      Stopwatch watch(diag_s_);
      float* change = diag_prev_.data<float>();  // −before + after: exactly after − before
      ops_.scale(DType::F32, grads.numel(), -1.0, change);
      ops_.accumulate(DType::F32, grads.numel(), grads.raw(), change);
      const double scale = (B / double(piece.count)) * (B / double(piece.count));
      diag_groups_.add_squares(ops_, change, 0, 0, grads.numel(), scale, small_sq);
    }
  }
  model_->set_grads_ready(nullptr);
  heartbeat("waiting in the gradient all-reduce (for a rank that has stopped?)");
  const auto wait_start = Clock::now();
  {
    TraceSpan span(trace_, "all-reduce", s);  // with buckets: the wait for the last of them
    if (measure && rank_groups && !buckets_) {  // this rank's own gradient, before the reduction
      Stopwatch watch(diag_s_);
      diag_groups_.add_squares(ops_, local, 0, 0, grads.numel(), rank_scale, small_sq);
    }
    if (buckets_)
      buckets_->finish();
    else if (zero_)
      comm_.reduce_scatter_sum(grads.data<float>(), shard_grads_.data<float>(), shard_counts_);
    else
      comm_.allreduce_sum(grads.data<float>(), grads.numel());
    // The loss, the ranks that want to stop, (ZeRO) the shards' squared gradient norms and
    // (diagnostics) the ranks' own squared gradient norms per group, in one small all-reduce.
    std::vector<double>& scalars = step_scalars_;
    scalars.assign(3, 0.0);
    scalars[0] = loss_sum;
    scalars[1] = wants_stop_ && wants_stop_() ? 1.0 : 0.0;
    if (zero_) scalars[2] = ops_.sum_squares(DType::F32, shard_grads_.numel(), shard_grads_.data<float>());
    if (measure && rank_groups) scalars.insert(scalars.end(), small_sq.begin(), small_sq.end());
    comm_.allreduce_sum(scalars.data(), measure && rank_groups ? std::int64_t(scalars.size()) : zero_ ? 3 : 2);
    if (measure && rank_groups) std::copy(scalars.begin() + 3, scalars.end(), small_sq.begin());
    loss_sum = scalars[0];
    stop_ranks_ = int(scalars[1]);
    if (zero_) *grad_norm = std::sqrt(scalars[2]);
  }
  comm_wait_s_ += seconds_since(wait_start);
  heartbeat("computing");
  if (buckets_) buckets_->set_before_reduce(nullptr);
  if (diag) {
    Stopwatch watch(diag_s_);
    measure_groups();
  }
  TraceSpan optimizer_span(trace_, "optimizer", s);
  optimizer_->set_lr(scheduled_lr(spec_.optimizer, s, spec_.train.steps));
  const Tensor params = weights();
  if (zero_) {
    const Tensor shard_grads = shard_grads_.tensor();
    clip_to_norm(ops_, shard_grads, *grad_norm, spec_.optimizer.grad_clip);
    float* shard = params.data<float>() + shard_begin_;
    optimizer_->step(Tensor(shard, DType::F32, Shape{shard_grads.numel()}, device_), shard_grads);
    heartbeat("waiting in the weights' all-gather (for a rank that has stopped?)");
    TraceSpan gather_span(trace_, "all-gather", s);
    const auto gather_start = Clock::now();
    comm_.allgather(shard, params.data<float>(), shard_counts_);
    comm_wait_s_ += seconds_since(gather_start);
    heartbeat("computing");
  } else {  // clipping, the step, the EMA and (bf16) the network's copy of the weights: one pass
    *grad_norm = global_norm(ops_, grads);
    optimizer_->step_with_ema(params, grads, clip_scale(*grad_norm, spec_.optimizer.grad_clip), ema_->weights(),
                              ema_->decay(), bf16_ ? model_->params().values().raw() : nullptr);
  }
  if (measure) {  // |G_B|² is the reduced gradient's, before clipping
    std::vector<std::int64_t>& groups = diag_.small_batches;
    groups.clear();
    for (int g = 0; g < (rank_groups ? comm_.size() : pieces); ++g)
      groups.push_back(rank_groups ? batch_slice(spec_.train.global_batch, g, comm_.size()).count
                                   : batch_slice(slice_.count, g, pieces).count);
    std::int64_t nonempty = 0;
    for (std::int64_t c : groups) nonempty += c > 0 ? 1 : 0;
    if (nonempty >= 2) {
      for (double& s : small_sq) s /= double(nonempty);  // the mean over the small batches
      double whole_small = 0;
      for (std::size_t i = 0; i < diag_groups_.tensors(); ++i) whole_small += small_sq[i];
      noise_ = estimate_noise_scale(whole_small, *grad_norm * *grad_norm, groups);
      noise_tracker_.add(*noise_);
    } else {
      small_sq.clear();
    }
  }
  if (zero_) {
    ema_->update(params);
    refresh_network_weights();
  }
  return loss_sum / double(spec_.train.global_batch);
}

void Trainer::add_network_gradient(std::int64_t end) {
  if (!bf16_ || end <= converted_) return;
  const Tensor g16 = model_->params().grads();
  const std::size_t at = std::size_t(converted_);
  ops_.convert(end - converted_, DType::BF16, static_cast<const std::uint16_t*>(g16.raw()) + at, DType::F32,
               grad_sum32_.data<float>() + at, /*accumulate=*/spec_.train.grad_accum > 1);
  converted_ = end;
}

void Trainer::refresh_network_weights() {
  if (!bf16_) return;
  const Tensor w16 = model_->params().values();
  ops_.convert(w16.numel(), DType::F32, master_.tensor().raw(), DType::BF16, w16.raw(), false);
}

// Per diagnostic group: the weights' and the reduced gradient's squared norms (before clipping).
// Under ZeRO each rank holds a shard of the gradient: partial sums, then one all-reduce.
void Trainer::measure_groups() {
  diag_.weight_sq.assign(diag_groups_.size(), 0.0);
  diag_.grad_sq.assign(diag_groups_.size(), 0.0);
  const std::int64_t n = weights().numel();
  diag_groups_.add_squares(ops_, weights().data<float>(), 0, 0, n, 1.0, diag_.weight_sq);
  if (zero_) {
    const std::int64_t end = shard_begin_ + shard_grads_.numel();
    diag_groups_.add_squares(ops_, shard_grads_.data<float>(), shard_begin_, shard_begin_, end, 1.0, diag_.grad_sq);
    comm_.allreduce_sum(diag_.grad_sq.data(), std::int64_t(diag_.grad_sq.size()));
  } else {
    diag_groups_.add_squares(ops_, grad_sum().data<float>(), 0, 0, n, 1.0, diag_.grad_sq);
  }
}

DiagnosticsReport Trainer::diagnostics_report() const {
  const ThermoSettings settings{spec_.train.global_batch, optimizer_->effective_lr(), spec_.optimizer.weight_decay};
  return carnot::diagnostics_report(diag_groups_, model_->params(), diag_, noise_, noise_tracker_.b_simple(), settings);
}

// Forward, loss and backward for samples [first, first + n) of step s, accumulating gradients;
// returns the loss summed over those samples (normalised by the global batch at the step's end).
double Trainer::micro_step(std::uint32_t s, std::uint32_t first, std::int64_t n, std::uint32_t next_step,
                           std::int64_t next_n, std::uint32_t next_first) {
  if (n == 0) return 0;
  const std::int64_t dim = data_->dim();
  std::optional<TraceSpan> span(std::in_place, trace_, "data", s);
  prefetch_->get(s, first, n, x0_.host(), labels_.empty() ? nullptr : labels_.data());
  prefetch_->start(next_step, next_first, next_n);
  // The objective's inputs. Flow, EDM and learned β run on the host, then x_t, t and the target go
  // over; the ε objective draws t, ε and x_t where the ops run, and brings t and ε back only for
  // what the host computes from them (x0 or v targets, Min-SNR weights, the bound).
  const bool host_inputs = spec_.diffusion.continuous() || learned_betas_;
  if (spec_.diffusion.flow())  // z_t into x_t_, the velocity target into target_
    flow_inputs(flow_times_, spec_.seed, s, first, n, dim, x0_.host(), t_.host(), target_.host(), x_t_.host());
  else if (spec_.diffusion.edm())  // c_in x into x_t_, F_target into target_
    edm_inputs(edm_, spec_.seed, s, first, n, dim, x0_.host(), x_t_.host(), t_.host(), target_.host());
  else if (learned_betas_)  // the schedule moves every step: the host inputs take it fresh
    eps_objective_inputs(schedule_, spec_.seed, s, first, n, dim, x0_.host(), t_.host(), eps_.host(), x_t_.host());
  if (host_inputs) {
    x_t_.upload(n);
    t_.upload(n);
    (spec_.diffusion.continuous() ? target_ : eps_).upload(n);
  } else {
    x0_.upload(n);
    ops_.q_sample_eps(alphas_cumprod_.data<double>(), schedule_.steps(), spec_.seed, s, first, n, dim, x0_.dev(),
                      t_.dev(), eps_.dev(), x_t_.dev());
    if (prediction_ != Prediction::kEps || spec_.diffusion.min_snr_gamma > 0 || loss_.kind != LossKind::kSimple) {
      t_.download(n);
      eps_.download(n);
    }
  }
  const Tensor x_t = x_t_.dev_rows(n), pred = pred_.dev_rows(n), dpred = dpred_.dev_rows(n);
  span.emplace(trace_, "forward", s);
  const std::int64_t* labels = nullptr;
  if (!labels_.empty()) {  // class labels, each dropped to the null class with model.class_dropout
    const double drop = spec_.model.class_dropout;
    const std::int64_t null_class = data_->num_classes();
    for (std::int64_t j = 0; j < n; ++j)
      if (drop > 0 && uniform_open01(philox_draw(spec_.seed, s, first + std::uint32_t(j), RngStream::kLabelDrop, 0).v[0]) < drop)
        labels_[std::size_t(j)] = null_class;
    labels = labels_.data();
    if (labels_on_device_.tensor().raw() != nullptr) {
      copy_bytes(labels_on_device_.tensor().raw(), device_, labels, Device::kCpu, std::size_t(n) * sizeof(std::int64_t));
      labels = static_cast<const std::int64_t*>(labels_on_device_.tensor().raw());
    }
  }
  const DropoutKey dropout{spec_.seed, s, first, 0};  // masks keyed by global sample index
  model_->set_dropout(&dropout);
  if (bf16_) {  // the network computes in bf16: its input and output convert at its edge
    const Tensor x16 = x_t16_.tensor().rows(0, n), pred16 = pred16_.tensor().rows(0, n);
    ops_.convert(x_t.numel(), DType::F32, x_t.raw(), DType::BF16, x16.raw(), false);
    model_->forward(x16, t_.dev(), labels, pred16);
    ops_.convert(pred.numel(), DType::BF16, pred16.raw(), DType::F32, pred.raw(), false);
  } else {
    model_->forward(x_t, t_.dev(), labels, pred);
  }
  span.emplace(trace_, "loss", s);
  // Normalised by the global batch, so the all-reduced sum is the global mean's gradient.
  const double scale = 1.0 / double(spec_.train.global_batch);
  double loss_sum = 0;
  if (loss_.kind == LossKind::kSimple) {
    loss_sum = simple_loss(n, dim, pred, scale, dpred);
  } else {  // the bound is host code: ε̂ comes back, its gradient goes over
    pred_.download(n);
    loss_sum = bound_loss(loss_, schedule_, n, dim, t_.host(), eps_.host(), pred_.host(), scale, dpred_.host());
    dpred_.upload(n);
  }
  if (loss_.kind == LossKind::kVlb)  // the prior's term completes the bound's estimate
    for (std::int64_t j = 0; j < n; ++j) loss_sum += prior_nats(schedule_, dim, x0_.host() + j * dim) / double(dim);
  span.emplace(trace_, "backward", s);
  module_start_ = Clock::now();
  if (learned_betas_) {  // CPU only (refused on a device at construction)
    const Tensor dx = dx_.tensor().rows(0, n);
    model_->backward(dpred, dx);
    add_beta_logit_gradient(schedule_, loss_.variance, n, dim, t_.host(), x0_.host(), eps_.host(), pred_.host(),
                            dx.data<float>(), scale, model_->beta_logit_grads().data<float>());
  } else {
    if (bf16_) {
      const Tensor dpred16 = dpred16_.tensor().rows(0, n);
      ops_.convert(dpred.numel(), DType::F32, dpred.raw(), DType::BF16, dpred16.raw(), false);
      model_->backward(dpred16, Tensor());
    } else {
      model_->backward(dpred, Tensor());
    }
  }
  return loss_sum;
}

// The regression of the objective's target (ε, x0, v, the flow's velocity or EDM's F_target),
// Min-SNR weighted when asked. Targets and weights other than ε are computed on the host.
double Trainer::simple_loss(std::int64_t n, std::int64_t dim, const Tensor& pred, double scale,
                            const Tensor& dpred) {
  const bool continuous = spec_.diffusion.continuous();
  const float* target = continuous ? target_.dev() : eps_.dev();
  if (!continuous && prediction_ != Prediction::kEps) {
    objective_targets(prediction_, schedule_, n, dim, t_.host(), x0_.host(), eps_.host(), target_.host());
    target_.upload(n);
    target = target_.dev();
  }
  const bool weighted = spec_.diffusion.min_snr_gamma > 0;
  if (weighted) {
    min_snr_weights(prediction_, schedule_, n, t_.host(), spec_.diffusion.min_snr_gamma, weights_.host());
    weights_.upload(n);
  }
  return ops_.mse_loss(DType::F32, n, dim, pred.raw(), target, weighted ? weights_.dev() : nullptr, scale, dpred.raw());
}

// Under ZeRO, rank 0's staging copy of a state tensor over every parameter, allocated when first asked.
Tensor Trainer::whole_state(std::size_t i) {
  CARNOT_CHECK(i < whole_state_.size(), "the optimizer has ", whole_state_.size(), " state tensors, asked for #", i);
  if (!zero_) return optimizer_->state(i);
  if (comm_.rank() != 0) return Tensor();
  Buffer& staging = whole_state_[i];
  if (staging.tensor().raw() == nullptr) staging = Buffer(DType::F32, Shape{model_->params().values().numel()}, device_);
  return staging.tensor();
}

void Trainer::gather_optimizer_state() {
  if (!zero_) return;
  for (std::size_t i = 0; i < whole_state_.size(); ++i) {
    const Tensor whole = whole_state(i), mine = optimizer_->state(i);
    comm_.gather(mine.data<float>(), mine.numel(), shard_counts_, comm_.rank() == 0 ? whole.data<float>() : nullptr);
  }
}

void Trainer::scatter_optimizer_state() {
  for (std::size_t i = 0; i < whole_state_.size(); ++i) {
    const Tensor mine = optimizer_->state(i);
    if (!zero_) {
      comm_.broadcast(mine.raw(), std::int64_t(mine.bytes()), 0);
      continue;
    }
    const Tensor whole = whole_state(i);
    comm_.scatter(comm_.rank() == 0 ? whole.data<float>() : nullptr, mine.data<float>(), shard_counts_);
  }
}

void Trainer::set_step(std::int64_t step) {
  CARNOT_CHECK(step >= 0, "negative step ", step);
  step_ = step;
  optimizer_->set_steps_taken(step);
}

void Trainer::run(RunFolder* folder, const CheckpointFn& checkpoint) {
  const bool report = folder != nullptr && comm_.rank() == 0;
  const std::int64_t total = spec_.train.steps, every = spec_.log.every;
  const std::int64_t first = step_;
  if (report) {
    char line[384];
    std::snprintf(line, sizeof line,
                  "carnot: training '%s': %lld parameters, steps %lld to %lld of global batch %lld "
                  "over %d rank(s) (%s)%s",
                  spec_.name.c_str(), (long long)model_->params().count(), (long long)first + 1,
                  (long long)total,
                  (long long)spec_.train.global_batch, comm_.size(), comm_.backend().c_str(),
                  bf16_ ? "; bf16 network, float32 master weights and gradients (reduced in float32)" : "");
    folder->log(line);
  }
  refresh_network_weights();  // weights() may have been restored or broadcast since
  const auto start = Clock::now();
  auto interval_start = start;
  double interval_loss = 0;
  std::int64_t interval_steps = 0;
  stop_ranks_ = 0;
  for (std::int64_t s = first; s < total; ++s) {
    double grad_norm = 0;
    const double loss = step(std::uint32_t(s), &grad_norm);
    step_ = s + 1;
    if (!std::isfinite(loss))  // the all-reduced loss: every rank stops here together
      throw_on_all_ranks(Error(str_cat("the loss is ", loss, " at step ", s + 1,
                                       " (lower optimizer.lr or set optimizer.grad_clip)")));
    losses_.push_back(loss);
    interval_loss += loss;
    ++interval_steps;
    const bool log_now = (s + 1) % every == 0 || s + 1 == total;
    if (log_now && report) {
      const double elapsed = seconds_since(start), dt = seconds_since(interval_start);
      const double samples_per_s = double(interval_steps * spec_.train.global_batch) / dt;
      const double mean_loss = interval_loss / double(interval_steps);
      const double eta = elapsed / double(s + 1 - first) * double(total - s - 1);
      char line[256];
      std::snprintf(line, sizeof line,
                    "step %*lld/%lld  loss %.5f  lr %.2e  grad_norm %.3f  %.0f samples/s  "
                    "elapsed %s  eta %s",
                    int(std::to_string(total).size()), (long long)(s + 1), (long long)total,
                    mean_loss, optimizer_->lr(), grad_norm, samples_per_s,
                    format_duration(elapsed).c_str(), format_duration(eta).c_str());
      folder->progress(line);
      folder->metrics({{"step", s + 1},
                       {"loss", mean_loss},
                       {"last_loss", loss},
                       {"lr", optimizer_->lr()},
                       {"grad_norm", grad_norm},
                       {"samples_per_s", samples_per_s},
                       {"elapsed_s", elapsed}});
    }
    if (report && diagnostic_step(std::uint32_t(s))) {
      Stopwatch watch(diag_s_);
      DiagnosticsReport diagnostics = diagnostics_report();
      for (const std::string& note : diagnostics.notes)
        if (std::find(diag_notes_said_.begin(), diag_notes_said_.end(), note) == diag_notes_said_.end()) {
          folder->log("carnot: diagnostics: " + note);
          diag_notes_said_.push_back(note);
        }
      nlohmann::json line = {{"step", s + 1}};  // a line of its own: diagnostics keep their own interval
      line.update(diagnostics.metrics);
      folder->metrics(line);
    }
    const bool stop = stop_ranks_ > 0;  // agreed by every rank in the step's all-reduce
    const bool sample_now = spec_.sample.every > 0 && (s + 1) % spec_.sample.every == 0;
    if (checkpoint && ((s + 1) % spec_.checkpoint.every == 0 || s + 1 == total || stop || sample_now)) checkpoint(s + 1);
    if (stop) return;
    if (log_now) {  // the next interval starts after any checkpoint, so its time is not counted
      interval_start = Clock::now();
      interval_loss = 0;
      interval_steps = 0;
    }
  }
  if (report && spec_.diagnostics.every > 0 && total > first) {
    const double elapsed = seconds_since(start);
    char line[160];
    std::snprintf(line, sizeof line, "carnot: diagnostics took %.3f s of %.1f s of training on rank 0 (%.2f%%, every %lld steps)",
                  diag_s_, elapsed, 100 * diag_s_ / elapsed, (long long)spec_.diagnostics.every);
    folder->log(line);
  }
}

}  // namespace carnot
