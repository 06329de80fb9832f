// The resolved spec written back as YAML, and the comparison of two specs on resume.
#include <yaml-cpp/yaml.h>

#include <map>

#include "framework/io/job_spec.h"

namespace carnot {

std::string job_spec_to_yaml(const JobSpec& s) {
  YAML::Emitter out;
  auto num = [](double v) { return format_number(v); };
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << s.name;
  out << YAML::Key << "seed" << YAML::Value << s.seed;
  out << YAML::Key << "data" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "kind" << YAML::Value << s.data.kind;
  auto list = [&](const std::vector<double>& v) {
    out << YAML::Flow << YAML::BeginSeq;
    for (double x : v) out << num(x);
    out << YAML::EndSeq;
  };
  auto rows = [&](const std::vector<std::vector<double>>& v) {
    out << YAML::Flow << YAML::BeginSeq;
    for (const auto& row : v) list(row);
    out << YAML::EndSeq;
  };
  if (s.data.kind == "swissroll") out << YAML::Key << "noise" << YAML::Value << num(s.data.noise);
  if (s.data.kind == "gaussian") {
    out << YAML::Key << "mean" << YAML::Value, list(s.data.mean);
    out << YAML::Key << "std" << YAML::Value, list(s.data.std);
  }
  if (s.data.kind == "gaussian_mixture") {
    out << YAML::Key << "means" << YAML::Value, rows(s.data.means);
    out << YAML::Key << "stds" << YAML::Value, rows(s.data.stds);
    out << YAML::Key << "weights" << YAML::Value, list(s.data.weights);
  }
  if (s.data.quantize != "none") {
    out << YAML::Key << "quantize" << YAML::Value << s.data.quantize;
  }
  if (s.data.image()) {
    if (!s.data.path.empty()) out << YAML::Key << "path" << YAML::Value << s.data.path;
    if (!s.data.labels.empty()) out << YAML::Key << "labels" << YAML::Value << s.data.labels;
    if (s.data.kind == "fashion_mnist") out << YAML::Key << "split" << YAML::Value << s.data.split;
    if (s.data.kind != "fashion_mnist") {  // Fashion-MNIST's are fixed
      out << YAML::Key << "channels" << YAML::Value << s.data.channels;
      out << YAML::Key << "image_size" << YAML::Value << s.data.image_size;
      if (s.data.kind != "dead_leaves") out << YAML::Key << "num_classes" << YAML::Value << s.data.num_classes;
    }
    out << YAML::Key << "pad_to" << YAML::Value << s.data.pad_to;
    out << YAML::Key << "flip" << YAML::Value << (s.data.flip ? "true" : "false");
  }
  out << YAML::EndMap;
  out << YAML::Key << "model" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "kind" << YAML::Value << s.model.kind;
  if ((s.model.kind != "dit" || s.model.size == "custom") && s.model.kind != "unet") {
    out << YAML::Key << "hidden" << YAML::Value << s.model.hidden;
    out << YAML::Key << "depth" << YAML::Value << s.model.depth;
  }
  if (s.model.kind != "dit" && s.model.kind != "unet") out << YAML::Key << "time_embed" << YAML::Value << s.model.time_embed;
  if (s.model.pair_init_scale != 1) out << YAML::Key << "pair_init_scale" << YAML::Value << num(s.model.pair_init_scale);
  if (s.model.kind == "mlp") {
    out << YAML::Key << "activation" << YAML::Value << s.model.activation;
    out << YAML::Key << "layer_norm" << YAML::Value << (s.model.layer_norm ? "true" : "false");
  }
  if (s.model.kind == "unet") {
    out << YAML::Key << "channels" << YAML::Value << s.model.channels;
    out << YAML::Key << "channel_mult" << YAML::Value << YAML::Flow << s.model.channel_mult;
    out << YAML::Key << "res_blocks" << YAML::Value << s.model.res_blocks;
    out << YAML::Key << "attention_resolutions" << YAML::Value << YAML::Flow << s.model.attention_resolutions;
    out << YAML::Key << "dropout" << YAML::Value << num(s.model.dropout);
    out << YAML::Key << "groups" << YAML::Value << s.model.groups;
    out << YAML::Key << "head_dim" << YAML::Value << s.model.head_dim;
    out << YAML::Key << "class_dropout" << YAML::Value << num(s.model.class_dropout);
  }
  if (s.model.kind == "dit") {
    out << YAML::Key << "size" << YAML::Value << s.model.size;
    out << YAML::Key << "patch" << YAML::Value << s.model.patch;
    if (s.model.size == "custom") out << YAML::Key << "heads" << YAML::Value << s.model.heads;
    out << YAML::Key << "class_dropout" << YAML::Value << num(s.model.class_dropout);
  }
  out << YAML::EndMap;
  out << YAML::Key << "diffusion" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "schedule" << YAML::Value << s.diffusion.schedule;
  if (s.diffusion.schedule == "sohl2015")
    out << YAML::Key << "step1_beta" << YAML::Value << num(s.diffusion.step1_beta);
  if (s.diffusion.flow()) {
    out << YAML::Key << "flow_times" << YAML::Value << s.diffusion.flow_times;
    if (s.diffusion.flow_times == "logit_normal") {
      out << YAML::Key << "logit_normal_mean" << YAML::Value << num(s.diffusion.logit_normal_mean);
      out << YAML::Key << "logit_normal_std" << YAML::Value << num(s.diffusion.logit_normal_std);
    }
    out << YAML::Key << "shift" << YAML::Value << num(s.diffusion.flow_shift);
  }
  if (s.diffusion.edm()) {
    out << YAML::Key << "sigma_min" << YAML::Value << num(s.diffusion.sigma_min);
    out << YAML::Key << "sigma_max" << YAML::Value << num(s.diffusion.sigma_max);
    out << YAML::Key << "rho" << YAML::Value << num(s.diffusion.rho);
    if (s.diffusion.sigma_data > 0) out << YAML::Key << "sigma_data" << YAML::Value << num(s.diffusion.sigma_data);
    out << YAML::Key << "p_mean" << YAML::Value << num(s.diffusion.p_mean);
    out << YAML::Key << "p_std" << YAML::Value << num(s.diffusion.p_std);
  }
  if (s.diffusion.schedule == "log_snr") {
    out << YAML::Key << "log_snr_max" << YAML::Value << num(s.diffusion.log_snr_max);
    out << YAML::Key << "log_snr_min" << YAML::Value << num(s.diffusion.log_snr_min);
  }
  out << YAML::Key << "steps" << YAML::Value << s.diffusion.steps;
  out << YAML::Key << "objective" << YAML::Value << s.diffusion.objective;
  out << YAML::Key << "min_snr_gamma" << YAML::Value << num(s.diffusion.min_snr_gamma);
  out << YAML::Key << "variance" << YAML::Value << s.diffusion.variance;
  out << YAML::Key << "loss" << YAML::Value << s.diffusion.loss;
  out << YAML::Key << "betas" << YAML::Value << s.diffusion.betas;
  if (s.diffusion.loss == "hybrid") out << YAML::Key << "vlb_weight" << YAML::Value << num(s.diffusion.vlb_weight);
  out << YAML::EndMap;
  out << YAML::Key << "optimizer" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "kind" << YAML::Value << s.optimizer.kind;
  out << YAML::Key << "lr" << YAML::Value << num(s.optimizer.lr);
  out << YAML::Key << "weight_decay" << YAML::Value << num(s.optimizer.weight_decay);
  out << YAML::Key << "warmup_steps" << YAML::Value << s.optimizer.warmup_steps;
  out << YAML::Key << "schedule" << YAML::Value << s.optimizer.schedule;
  if (s.optimizer.schedule == "cosine") {
    out << YAML::Key << "min_lr" << YAML::Value << num(s.optimizer.min_lr);
    out << YAML::Key << "decay_steps" << YAML::Value << s.optimizer.decay_steps;
  }
  if (s.optimizer.kind == "sgd") {
    out << YAML::Key << "momentum" << YAML::Value << num(s.optimizer.momentum);
    out << YAML::Key << "nesterov" << YAML::Value << (s.optimizer.nesterov ? "true" : "false");
  } else {
    out << YAML::Key << "betas" << YAML::Value << YAML::Flow << YAML::BeginSeq << num(s.optimizer.beta1)
        << num(s.optimizer.beta2) << YAML::EndSeq;
    out << YAML::Key << "eps" << YAML::Value << num(s.optimizer.eps);
  }
  out << YAML::Key << "grad_clip" << YAML::Value << num(s.optimizer.grad_clip) << YAML::EndMap;
  out << YAML::Key << "train" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "global_batch" << YAML::Value << s.train.global_batch;
  out << YAML::Key << "steps" << YAML::Value << s.train.steps;
  out << YAML::Key << "ema" << YAML::Value << num(s.train.ema);
  out << YAML::Key << "grad_accum" << YAML::Value << s.train.grad_accum;
  out << YAML::Key << "precision" << YAML::Value << s.train.precision;
  out << YAML::Key << "recompute" << YAML::Value << s.train.recompute;
  if (s.train.trace) {
    out << YAML::Key << "trace" << YAML::Value << true;
    out << YAML::Key << "trace_steps" << YAML::Value << s.train.trace_steps;
  }
  out << YAML::EndMap;
  out << YAML::Key << "log" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "every" << YAML::Value << s.log.every << YAML::EndMap;
  if (s.sample.every > 0) {
    out << YAML::Key << "sample" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "every" << YAML::Value << s.sample.every;
    out << YAML::Key << "n" << YAML::Value << s.sample.n;
    out << YAML::Key << "steps" << YAML::Value << s.sample.steps << YAML::EndMap;
  }
  out << YAML::Key << "checkpoint" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "every" << YAML::Value << s.checkpoint.every;
  out << YAML::Key << "keep" << YAML::Value << s.checkpoint.keep << YAML::EndMap;
  out << YAML::Key << "diagnostics" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "every" << YAML::Value << s.diagnostics.every;
  out << YAML::Key << "noise_scale_ema" << YAML::Value << num(s.diagnostics.noise_scale_ema);
  out << YAML::EndMap;
  out << YAML::Key << "distributed" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "timeout_s" << YAML::Value << s.distributed.timeout_s;
  out << YAML::Key << "bucket_mb" << YAML::Value << num(s.distributed.bucket_mb);
  out << YAML::Key << "zero" << YAML::Value << s.distributed.zero;
  out << YAML::Key << "backend" << YAML::Value << s.distributed.backend << YAML::EndMap;
  if (s.debug.fault_kind != "none") {
    out << YAML::Key << "debug" << YAML::Value << YAML::BeginMap << YAML::Key << "fault" << YAML::Value
        << YAML::BeginMap;
    out << YAML::Key << "rank" << YAML::Value << s.debug.fault_rank;
    out << YAML::Key << "step" << YAML::Value << s.debug.fault_step;
    out << YAML::Key << "kind" << YAML::Value << s.debug.fault_kind << YAML::EndMap << YAML::EndMap;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

namespace {

// Every leaf of a YAML tree as "a.b.c" -> its scalar text (lists as flow text).
void flatten(const YAML::Node& n, const std::string& path, std::map<std::string, std::string>& out) {
  if (n.IsMap()) {
    for (const auto& kv : n) flatten(kv.second, (path.empty() ? kv.first.Scalar() : path + "." + kv.first.Scalar()), out);
  } else if (n.IsSequence()) {
    YAML::Emitter e;
    e << YAML::Flow << n;
    out[path] = e.c_str();
  } else {
    out[path] = n.Scalar();
  }
}

}  // namespace

std::vector<std::string> resume_incompatibilities(const JobSpec& saved, const JobSpec& now) {
  std::map<std::string, std::string> a, b;
  flatten(YAML::Load(job_spec_to_yaml(saved)), "", a);
  flatten(YAML::Load(job_spec_to_yaml(now)), "", b);
  std::vector<std::string> diffs;
  for (const auto& [key, value] : b) {
    if (key == "train.steps" || key.rfind("log.", 0) == 0 || key.rfind("checkpoint.", 0) == 0 ||
        key.rfind("distributed.", 0) == 0 || key.rfind("debug.", 0) == 0 || key.rfind("train.trace", 0) == 0 ||
        key.rfind("sample.", 0) == 0 || key.rfind("diagnostics.", 0) == 0)
      continue;
    const auto it = a.find(key);
    const std::string old = it == a.end() ? "(absent)" : it->second;
    if (old != value) diffs.push_back(key + ": " + old + " -> " + value);
  }
  return diffs;
}

}  // namespace carnot
