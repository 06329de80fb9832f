// The job spec: a typed, validated view of job.yaml. Only this file and job_spec.cpp touch YAML.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace carnot {

struct DataSpec {
  // swissroll | gaussian | gaussian_mixture (points), or images: fashion_mnist | idx | npy | dead_leaves
  std::string kind = "swissroll";
  double noise = 0.5;  // swissroll: the noise's standard deviation, in the roll's raw units
  std::vector<double> mean, std;   // gaussian: diagonal N(mean, std²)
  std::vector<std::vector<double>> means, stds;  // gaussian_mixture: one row per component
  std::vector<double> weights;                   // gaussian_mixture: summing to 1
  // gaussian kinds: none, or 8bit: clipped to [−1, 1] and rounded to its 256 levels −1 + 2k/255,
  // 8-bit data with a known discrete likelihood, for the discretised decoder and bits_per_dim.
  std::string quantize = "none";
  // Images, channels × side × side in the model's units ([−1, 1] for 8-bit pixels):
  std::string path;               // idx, npy: the images file; fashion_mnist: its folder
  std::string labels;             // idx, npy: a labels file (empty: unlabelled)
  std::string split = "train";    // fashion_mnist: train | test
  std::int64_t channels = 1;      // npy: as the file holds (checked when read)
  std::int64_t image_size = 0;    // idx, npy: the files' (checked); fashion_mnist 28; dead_leaves: drawn
  std::int64_t pad_to = 0;        // centre each image in pad_to × pad_to of −1 (0: no padding)
  bool flip = false;              // random horizontal flips
  std::int64_t num_classes = 0;   // labelled idx/npy: how many classes (labels below it); fashion_mnist 10
  bool image() const { return kind == "fashion_mnist" || kind == "idx" || kind == "npy" || kind == "dead_leaves"; }
  std::int64_t side() const { return pad_to > 0 ? pad_to : image_size; }
  std::int64_t dim() const;
};

struct ModelSpec {
  // mlp | dit | unet (image data) | exact (the analytic ε of gaussian or gaussian_mixture data)
  std::string kind = "mlp";
  std::int64_t hidden = 128;
  std::int64_t depth = 4;
  std::int64_t time_embed = 32;
  // mlp: the activation (silu | relu) and a LayerNorm after each block's first layer.
  std::string activation = "silu";
  bool layer_norm = false;
  // Every rescaling pair (nn/symmetries.h) starts as (c·u, w/c): the same function, parametrised
  // out of balance, for gradient-balance experiments. 1: as initialised.
  double pair_init_scale = 1;
  // dit: a named size (S, B, L, XL: hidden, depth and heads as the paper's) or custom (the keys).
  std::string size = "custom";
  std::int64_t patch = 2;
  std::int64_t heads = 4;
  double class_dropout = 0.1;  // labels dropped to the null class, for classifier-free guidance (dit, unet)
  // unet (DDPM's): base channels and a multiplier per level, residual blocks per level, the sides
  // where attention follows each block, dropout in the blocks, GroupNorm's groups, attention head
  // width (0: one head as wide as the block).
  std::int64_t channels = 64;
  std::vector<std::int64_t> channel_mult = {1, 2, 2};
  std::int64_t res_blocks = 2;
  std::vector<std::int64_t> attention_resolutions = {16};
  double dropout = 0.1;
  std::int64_t groups = 32;
  std::int64_t head_dim = 0;
};

struct DiffusionSpec {
  std::string schedule = "linear";  // linear | cosine | sohl2015 | log_snr | flow | edm
  double log_snr_max = 10, log_snr_min = -5;  // log_snr: λ at the first and the last step
  double step1_beta = 1e-3;         // sohl2015: the extra β at t = 1
  std::int64_t steps = 1000;
  // What the network predicts: eps | x0 | v | flow (velocity ε − x0) | edm (preconditioned F, edm.h)
  std::string objective = "eps";
  double min_snr_gamma = 0;       // Min-SNR-γ loss weighting; 0 turns it off
  std::string variance = "fixed_small";  // reverse-step variance: fixed_small | fixed_large | learned
  std::string loss = "simple";           // simple | vlb | hybrid (diffusion/vlb_loss.h)
  std::string betas = "fixed";           // fixed | learned (diffusion/learned_betas.h; loss vlb)
  double vlb_weight = 1e-3;              // hybrid: the bound's weight λ
  // schedule flow (flow_matching.h): how training times are drawn.
  std::string flow_times = "uniform";  // uniform | logit_normal
  double logit_normal_mean = 0, logit_normal_std = 1;
  double flow_shift = 1;  // SD3's shift (YAML key `shift`)
  bool flow() const { return schedule == "flow"; }
  // schedule edm (edm.h): continuous σ.
  double sigma_min = 0.002, sigma_max = 80, rho = 7;
  double sigma_data = 0;  // 0: the data's standard deviation
  double p_mean = -1.2, p_std = 1.2;
  bool edm() const { return schedule == "edm"; }
  bool continuous() const { return flow() || edm(); }  // no discrete chain: no DDPM, DDIM or bound
  static constexpr std::int64_t kMaxFullCovarianceDim = 16;  // learned_full costs O(dim³) per row
};

// adamw (decoupled weight decay; betas, eps) or sgd (L2 weight decay as PyTorch's; momentum,
// nesterov). Each kind's own keys are refused under the other.
struct OptimizerSpec {
  std::string kind = "adamw";
  double lr = 1e-3;
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double momentum = 0;
  bool nesterov = false;
  // The learning rate's schedule (optim/lr_schedule.h): warm-up steps, then constant or cosine
  // down to min_lr at decay_steps (0: train.steps).
  std::int64_t warmup_steps = 0;
  std::string schedule = "constant";  // constant | cosine
  double min_lr = 0;
  std::int64_t decay_steps = 0;
  double grad_clip = 1.0;  // max global gradient norm; 0 turns clipping off
};

struct TrainSpec {
  std::int64_t global_batch = 256;
  std::int64_t steps = 5000;
  double ema = 0.999;
  // Micro-batches per step per rank: each rank's share of the global batch runs in this many
  // pieces whose gradients add up before the one all-reduce (activations for one piece only).
  std::int64_t grad_accum = 1;
  // fp32, or bf16: the network computes in bf16 (weights, activations, its gradients) beside fp32
  // master weights, gradient sum, optimizer state and EMA; checkpoints hold the fp32 master weights.
  std::string precision = "fp32";
  // DiT: each block keeps only its output for backward and runs its forward again there (about a
  // third more compute for a fraction of the activation memory; nn/dit.h).
  bool recompute = false;
  // Chrome-trace timeline per rank (run folder trace/rank<R>.json) of the first trace_steps steps.
  bool trace = false;
  std::int64_t trace_steps = 200;
};

struct LogSpec {
  std::int64_t every = 50;
};

// Image models: a grid of samples from the EMA weights every `every` steps (0: none), written as
// samples/step_<9 digits>.png in the run folder (checkpointed at those steps too).
struct SampleSpec {
  std::int64_t every = 0;
  std::int64_t n = 100;     // one row per class for class-conditional models
  std::int64_t steps = 0;   // 0: DDPM's whole chain; else DDIM (η = 0) with this many steps
};

struct CheckpointSpec {
  std::int64_t every = 1000;  // steps between checkpoints (and one at the end)
  std::int64_t keep = 3;      // newest checkpoints kept
};

struct DistributedSpec {
  // A rank that makes no progress for this long (stuck in compute or waiting in a collective for a
  // rank that is) ends the whole job with a message naming itself and where it was.
  std::int64_t timeout_s = 300;
  // Gradient buckets of about this many MiB (the first at most 1 MiB), each all-reduced as soon as
  // backward has finished it (dist/grad_buckets.h); 0: one all-reduce after backward.
  double bucket_mb = 25;
  // ZeRO stage: 0 replicates the optimizer state; 1 shards it (AdamW's moments, SGD's momentum)
  // (gradients reduce-scattered, each rank updates its shard, the weights all-gathered).
  std::int64_t zero = 0;
  // The communicator: auto (NCCL when the model's buffers live on a GPU, else MPI), mpi or nccl.
  std::string backend = "auto";
};

// Fault injection for tests: at the start of step `step` (1-based) rank `rank` throws, exits
// abruptly or hangs. kind none (the default) injects nothing.
struct DebugSpec {
  std::string fault_kind = "none";  // none | throw | exit | hang
  std::int64_t fault_rank = 0, fault_step = 1;
};

// diagnostics: measurements of the training dynamics logged every `every` steps (0: off) to
// metrics.jsonl and TensorBoard, as lines of their own (diagnostics/report.h): the gradient noise
// scale (McCandlish et al. 2018; ranks, or one rank's micro-batches, as the small batches),
// B_simple smoothed with noise_scale_ema, SGD's temperature and entropic terms, per-tensor norms,
// and the charges and balances of the model's symmetries. On by default: they cost well under 2%
// of step time at every 100 steps (benchmarks/diagnostics_cost.py).
struct DiagnosticsSpec {
  std::int64_t every = 100;
  double noise_scale_ema = 0.9;
};

struct JobSpec {
  std::string name;
  std::uint64_t seed = 0;
  DataSpec data;
  ModelSpec model;
  DiffusionSpec diffusion;
  OptimizerSpec optimizer;
  TrainSpec train;
  LogSpec log;
  SampleSpec sample;
  CheckpointSpec checkpoint;
  DistributedSpec distributed;
  DebugSpec debug;
  DiagnosticsSpec diagnostics;
};

// Parses and validates a job spec, applying `--set key.path=value` overrides (values in YAML
// syntax). Any problem throws UsageError naming the file, line, column and key path, or the
// override it came from.
JobSpec load_job_spec(const std::string& path, const std::vector<std::string>& overrides = {});
JobSpec parse_job_spec(const std::string& yaml_text, const std::string& source_name,
                       const std::vector<std::string>& overrides = {});

// The shortest text that reads back as the same double ("0.001", "1e-08").
std::string format_number(double v);

// The resolved spec, every key with its value, as YAML that parse_job_spec reads back.
std::string job_spec_to_yaml(const JobSpec& spec);

// Keys whose values differ between two specs ("optimizer.lr: 0.001 -> 0.0002"), leaving out
// those a resumed run may change: train.steps, log.* and checkpoint.*.
std::vector<std::string> resume_incompatibilities(const JobSpec& saved, const JobSpec& now);

}  // namespace carnot
