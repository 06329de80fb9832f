// carnot validate JOB.yaml [--set k=v]... [--ranks R]: the resolved spec and what the job will
// cost per rank, without touching data or allocating the model.
#include <cstdio>

#include "framework/cli/commands.h"
#include "framework/io/job_spec.h"
#include "framework/nn/mlp_score_net.h"
#include "framework/train/trainer.h"

namespace carnot {

namespace {

std::string human_bytes(double b) {
  const char* unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.2f %s" : "%.0f %s", b, unit[u]);
  return buf;
}

std::string human_count(double x) {
  const char* unit[] = {"", "k", "M", "G", "T", "P", "E", "Z"};
  int u = 0;
  while (x >= 1000 && u < 7) x /= 1000, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.3g %s" : "%.0f%s", x, unit[u]);
  return buf;
}

// 675129632 → "675,129,632".
std::string grouped(std::int64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

int run_validate(Comm& comm, const ValidateArgs& args) {
  const JobSpec spec = load_spec_on_all_ranks(comm, args.job, args.overrides);
  if (comm.rank() != 0) return 0;
  std::printf("# resolved job spec (%s)\n%s\n", args.job.c_str(), job_spec_to_yaml(spec).c_str());
  if (spec.model.kind == "exact") {
    std::printf("plan: model.kind exact is the analytic eps of the %s data: no parameters, nothing to\n"
                "train; sample it with carnot sample --job %s\nvalid\n", spec.data.kind.c_str(), args.job.c_str());
    return 0;
  }
  const int ranks = args.ranks > 0 ? args.ranks : comm.size();
  const std::int64_t rows = batch_slice(spec.train.global_batch, 0, ranks).count;
  const std::int64_t micro_rows = batch_slice(rows, 0, int(spec.train.grad_accum)).count;  // activations per piece
  // The network's size, FLOPs and saved activations, per kind.
  double P = 0, forward_flops = 0, activation_elements = 0;
  double recomputed_elements = 0;  // DiT without train.recompute: the activations with it
  std::string model_line;
  if (spec.model.kind == "dit") {
    const DitConfig dit = dit_config(spec);
    P = double(dit_parameter_count(dit));
    forward_flops = dit_forward_flops(dit);
    activation_elements = double(dit_activation_elements(dit)) * double(std::max<std::int64_t>(1, micro_rows));
    if (!dit.recompute) {
      DitConfig again = dit;
      again.recompute = true;
      recomputed_elements = double(dit_activation_elements(again)) * double(std::max<std::int64_t>(1, micro_rows));
    }
    model_line = str_cat("DiT-", dit.hidden, "w/", dit.depth, "d/", dit.heads, "h, patch ", dit.patch, ", ",
                         dit.tokens(), " tokens of ", dit.in_channels, "×", dit.input_size, "×", dit.input_size,
                         dit.num_classes ? str_cat(", ", dit.num_classes, " classes") : std::string(", unconditional"),
                         dit.learn_sigma ? ", learned σ" : "");
  } else if (spec.model.kind == "unet") {
    const UNetConfig u = unet_config(spec);
    u.validate();
    P = double(unet_parameter_count(u));
    forward_flops = unet_forward_flops(u);
    activation_elements = double(unet_activation_elements(u)) * double(std::max<std::int64_t>(1, micro_rows));
    std::string mult, attn;
    for (std::int64_t m : u.channel_mult) mult += (mult.empty() ? "" : ",") + std::to_string(m);
    for (std::int64_t a : u.attention_resolutions) attn += (attn.empty() ? "" : ",") + std::to_string(a);
    model_line = str_cat("U-Net ", u.channels, "ch × (", mult, "), ", u.res_blocks, " residual block",
                         u.res_blocks == 1 ? "" : "s", " per level, attention at ",
                         attn.empty() ? std::string("none") : attn, " and the middle, on ", u.in_channels, "×",
                         u.sample_size, "×", u.sample_size,
                         u.num_classes ? str_cat(", ", u.num_classes, " classes") : std::string(", unconditional"),
                         u.learn_sigma ? ", learned σ" : "");
  } else {
    const MlpPlan plan = plan_mlp(mlp_config(spec), std::max<std::int64_t>(1, micro_rows));
    P = double(plan.parameters);
    forward_flops = double(plan.forward_flops_per_sample);
    activation_elements = double(plan.activation_elements);
    model_line = "mlp";
  }
  // fp32: weights (which are also the optimizer's master copy), gradients, the optimizer's state
  // (AdamW's two moments, SGD's momentum buffer or nothing), the EMA copy. bf16 (train.precision):
  // the network's weights, gradients and activations in bf16 beside fp32 master weights and an fp32
  // gradient (micro-batches add up there; reduced, clipped and stepped in fp32). ZeRO-1 keeps the
  // state of one shard per rank, plus that shard's reduce-scattered gradient.
  const bool bf16 = spec.train.precision == "bf16";
  const bool zero = spec.distributed.zero == 1;
  const double shard = zero ? 1.0 / ranks : 1.0;
  const bool adamw = spec.optimizer.kind == "adamw";
  const int state_bytes = adamw ? 8 : spec.optimizer.momentum > 0 ? 4 : 0;
  const std::string state_name = adamw ? "AdamW" : "SGD";
  const double weights = (bf16 ? 2 + 4 : 4) * P, grads = (bf16 ? 2 + 4 : 4) * P + (zero ? 4 * P * shard : 0),
               optimizer = state_bytes * P * shard, ema = 4 * P;
  const double acts = (bf16 ? 2.0 : 4.0) * activation_elements;  // (bf16: the norms' few statistics are fp32)
  std::string parts = bf16 ? "bf16 weights 2 + bf16 gradients 2 + fp32 master weights 4 + fp32 gradients 4"
                           : "fp32 weights 4 + gradients 4";
  if (zero) parts += str_cat(" + gradient shard 4/", ranks);
  if (state_bytes > 0) parts += str_cat(" + ", state_name, " ", state_bytes, zero ? str_cat("/", ranks) : "");
  parts += " + EMA 4";
  const double train_flops_per_sample = 3.0 * forward_flops;

  std::printf("plan for %d rank(s), %lld samples on rank 0 of a global batch of %lld", ranks, (long long)rows,
              (long long)spec.train.global_batch);
  if (spec.train.grad_accum > 1)
    std::printf(", in %lld micro-batches of up to %lld (activations for one)", (long long)spec.train.grad_accum,
                (long long)micro_rows);
  std::printf(":\n");
  std::printf("  model            %s, %s parameters (%s)\n", model_line.c_str(), human_count(P).c_str(),
              grouped(std::int64_t(P)).c_str());
  std::printf("  per rank         weights %s, gradients %s, %s state %s, EMA %s, activations %s\n",
              human_bytes(weights).c_str(), human_bytes(grads).c_str(), state_name.c_str(), human_bytes(optimizer).c_str(),
              human_bytes(ema).c_str(), human_bytes(acts).c_str());
  const char* note = zero ? "ZeRO stage 1: the optimizer's state and the gradient's shard are 1/N per rank"
                     : state_bytes > 0 ? "not sharded: distributed.zero 1 makes the optimizer's state 1/N"
                                       : "plain SGD keeps no state";
  std::printf("  per parameter    %.4g bytes (%s;\n                   %s)\n", (weights + grads + optimizer + ema) / P,
              parts.c_str(), note);
  std::printf("  total per rank   %s\n", human_bytes(weights + grads + optimizer + ema + acts).c_str());
  if (recomputed_elements > 0)
    std::printf("                   (train.recompute true: activations %s, total %s, for one more forward per step)\n",
                human_bytes(acts * recomputed_elements / activation_elements).c_str(),
                human_bytes(weights + grads + optimizer + ema + acts * recomputed_elements / activation_elements).c_str());
  else if (spec.train.recompute)
    std::printf("                   (activations: each block's output, and one block's internals at a time)\n");
  std::printf("  FLOPs            %s per sample forward (2 per multiply-add), %s per sample trained (3x), %s per step%s\n",
              human_count(forward_flops).c_str(),
              human_count(train_flops_per_sample).c_str(),
              human_count(train_flops_per_sample * double(spec.train.global_batch)).c_str(),
              spec.train.recompute ? "\n                   (train.recompute runs the blocks' forward once more: not counted)" : "");
  std::printf("  run              %lld steps, %s FLOPs; checkpoints every %lld steps, %lld kept\n",
              (long long)spec.train.steps,
              human_count(train_flops_per_sample * double(spec.train.global_batch) * double(spec.train.steps)).c_str(),
              (long long)spec.checkpoint.every, (long long)spec.checkpoint.keep);
  std::printf("valid\n");
  return 0;
}

}  // namespace carnot
