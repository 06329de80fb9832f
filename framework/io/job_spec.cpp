#include "framework/io/job_spec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "framework/core/error.h"
#include "framework/io/spec_reader.h"

namespace carnot {

namespace {

using namespace spec_reader;

// Image kinds: each key checked against the kind; shapes the files must have are given here, so
// that validate plans without reading data and a file that disagrees is refused when read.
void read_image_data(const SpecReader& r, const YAML::Node& n, const Section& s, DataSpec& d) {
  s.key("path", [&](const YAML::Node& v, const std::string& p) {
    d.path = r.scalar(v, p, "a path");
    r.require(d.kind != "dead_leaves", v, p, "dead_leaves are drawn, not read");
  });
  s.key("labels", [&](const YAML::Node& v, const std::string& p) {
    d.labels = r.scalar(v, p, "a path");
    r.require(d.kind == "idx" || d.kind == "npy", v, p, "only for data.kind idx or npy (this is " + d.kind + ")");
  });
  s.choice("split", d.split, {"train", "test"});
  s.key("split", [&](const YAML::Node& v, const std::string& p) {
    r.require(d.kind == "fashion_mnist", v, p, "only for data.kind fashion_mnist (this is " + d.kind + ")");
  });
  s.integer("channels", d.channels, closed(1, 64));
  s.integer("image_size", d.image_size, closed(1, 4096));
  s.integer("pad_to", d.pad_to, closed(0, 4096));
  s.integer("num_classes", d.num_classes, closed(0, 1000000));
  std::string flip = d.flip ? "true" : "false";
  s.choice("flip", flip, {"false", "true"});
  d.flip = flip == "true";
  if (d.kind == "fashion_mnist") {
    for (const char* key : {"image_size", "channels", "num_classes"})
      s.key(key, [&](const YAML::Node& v, const std::string& p) {
        r.require(false, v, p, "Fashion-MNIST is 28×28, 1 channel, 10 classes: leave it out");
      });
    d.image_size = 28, d.channels = 1, d.num_classes = 10;
    if (d.path.empty()) d.path = "/usr/share/datasets/fashion-mnist";
  } else if (d.kind == "dead_leaves") {
    if (d.image_size == 0) d.image_size = 32;
    s.key("num_classes", [&](const YAML::Node& v, const std::string& p) {
      r.require(d.num_classes == 0, v, p, "dead leaves have no classes");
    });
  } else {
    r.require(n["path"].IsDefined() && n["image_size"].IsDefined(), n, "data",
              "kind " + d.kind + " needs path: FILE and image_size: N (the files' height and width)");
    r.require(d.kind != "idx" || d.channels == 1, n["channels"].IsDefined() ? n["channels"] : n, "data.channels",
              "IDX images have one channel");
    r.require(d.labels.empty() == (d.num_classes == 0), n, "data",
              "labels: FILE and num_classes: K go together (K classes, labels 0 to K − 1)");
  }
  s.key("pad_to", [&](const YAML::Node& v, const std::string& p) {
    r.require(d.pad_to == 0 || d.pad_to >= d.image_size, v, p,
              str_cat("must be 0 or at least data.image_size (", d.image_size, "), got ", d.pad_to));
  });
}

void read_data(const SpecReader& r, const YAML::Node& n, DataSpec& d) {
  const Section s(r, n, "data", {"kind", "noise", "mean", "std", "means", "stds", "weights", "quantize", "path", "labels",
                                 "split", "channels", "image_size", "pad_to", "flip", "num_classes"});
  s.choice("kind", d.kind, {"swissroll", "gaussian", "gaussian_mixture", "fashion_mnist", "idx", "npy", "dead_leaves"});
  if (d.image())
    read_image_data(r, n, s, d);
  else
    for (const char* key : {"path", "labels", "split", "channels", "image_size", "pad_to", "flip", "num_classes"})
      s.key(key, [&](const YAML::Node& v, const std::string& p) {
        r.require(false, v, p, "only for image data (data.kind fashion_mnist, idx, npy or dead_leaves)");
      });
  // Each key belongs to one kind.
  const std::map<std::string, std::string> owner = {
      {"noise", "swissroll"}, {"mean", "gaussian"}, {"std", "gaussian"},
      {"means", "gaussian_mixture"}, {"stds", "gaussian_mixture"}, {"weights", "gaussian_mixture"}};
  for (const auto& [key, kind] : owner)
    s.key(key.c_str(), [&](const YAML::Node& v, const std::string& p) {
      r.require(d.kind == kind, v, p, "only for data.kind " + kind + " (this is " + d.kind + ")");
    });
  s.number("noise", d.noise, at_least(0));
  s.choice("quantize", d.quantize, {"none", "8bit"});
  s.key("quantize", [&](const YAML::Node& v, const std::string& p) {
    r.require(d.quantize == "none" || d.kind != "swissroll", v, p, "8bit is for data.kind gaussian or gaussian_mixture");
  });
  auto positive = [&](const std::vector<double>& v, const YAML::Node& node, const std::string& p) {
    for (std::size_t i = 0; i < v.size(); ++i)
      r.require(v[i] > 0, node, p, "every standard deviation must be > 0, got " + fmt(v[i]));
  };
  if (d.kind == "gaussian") {
    r.require(n["mean"].IsDefined() && n["std"].IsDefined(), n, "data",
              "kind gaussian needs mean: [...] and std: [...]");
    d.mean = r.numbers(n["mean"], "data.mean");
    d.std = r.numbers(n["std"], "data.std");
    r.require(d.std.size() == d.mean.size(), n["std"], "data.std",
              str_cat("has ", d.std.size(), " entries, data.mean has ", d.mean.size()));
    positive(d.std, n["std"], "data.std");
  }
  if (d.kind == "gaussian_mixture") {
    r.require(n["means"].IsDefined() && n["stds"].IsDefined() && n["weights"].IsDefined(), n, "data",
              "kind gaussian_mixture needs means: [[...], ...], stds: [[...], ...] and weights: [...]");
    d.means = r.rows(n["means"], "data.means");
    d.stds = r.rows(n["stds"], "data.stds");
    d.weights = r.numbers(n["weights"], "data.weights");
    const std::size_t k = d.means.size(), dim = d.means[0].size();
    r.require(d.stds.size() == k && d.weights.size() == k, n, "data",
              str_cat("means, stds and weights must have one entry per component: ", k, ", ",
                      d.stds.size(), " and ", d.weights.size()));
    for (std::size_t c = 0; c < k; ++c) {
      const std::string at = str_cat("[", c, "]");
      r.require(d.means[c].size() == dim && d.stds[c].size() == dim, n["means"], "data.means" + at,
                str_cat("every component needs ", dim, " coordinates in means and stds"));
      positive(d.stds[c], n["stds"][c], "data.stds" + at);
      r.require(d.weights[c] > 0, n["weights"][c], "data.weights" + at, "must be > 0, got " + fmt(d.weights[c]));
    }
    double total = 0;
    for (double w : d.weights) total += w;
    r.require(std::fabs(total - 1) < 1e-6, n["weights"], "data.weights", "must sum to 1, they sum to " + fmt(total));
  }
}

void read_model(const SpecReader& r, const YAML::Node& n, ModelSpec& m) {
  const Section s(r, n, "model", {"kind", "hidden", "depth", "time_embed", "activation", "layer_norm", "pair_init_scale", "size", "patch", "heads", "class_dropout",
                                  "channels", "channel_mult", "res_blocks", "attention_resolutions", "dropout",
                                  "groups", "head_dim"});
  s.choice("kind", m.kind, {"mlp", "dit", "unet", "exact"});
  s.choice("size", m.size, {"custom", "S", "B", "L", "XL"});
  s.choice("activation", m.activation, {"silu", "relu"});
  std::string layer_norm = m.layer_norm ? "true" : "false";
  s.choice("layer_norm", layer_norm, {"false", "true"});
  m.layer_norm = layer_norm == "true";
  s.number("pair_init_scale", m.pair_init_scale, above(0));
  s.key("pair_init_scale", [&](const YAML::Node& v, const std::string& p) {
    r.require(m.kind != "exact", v, p, "model.kind exact has no parameters");
    r.require(m.kind != "mlp" || (m.activation == "relu" && !m.layer_norm), v, p,
              "an MLP has rescaling pairs only with model.activation relu and no model.layer_norm");
  });
  for (const char* key : {"activation", "layer_norm"})
    s.key(key, [&](const YAML::Node& v, const std::string& p) {
      r.require(m.kind == "mlp", v, p, "only for model.kind mlp (this is " + m.kind + ")");
    });
  s.integer("patch", m.patch, closed(1, 64));
  s.integer("heads", m.heads, closed(1, 1024));
  s.number("class_dropout", m.class_dropout, half_open(0, 1));
  for (const char* key : {"size", "patch", "heads"})
    s.key(key, [&](const YAML::Node& v, const std::string& p) {
      r.require(m.kind == "dit", v, p, "only for model.kind dit (this is " + m.kind + ")");
    });
  s.key("class_dropout", [&](const YAML::Node& v, const std::string& p) {
    r.require(m.kind == "dit" || m.kind == "unet", v, p, "only for model.kind dit or unet (this is " + m.kind + ")");
  });
  s.integer("channels", m.channels, closed(1, 65536));
  s.integer("res_blocks", m.res_blocks, closed(1, 64));
  s.number("dropout", m.dropout, half_open(0, 1));
  s.integer("groups", m.groups, closed(1, 65536));
  s.integer("head_dim", m.head_dim, closed(0, 65536));
  s.key("channel_mult", [&](const YAML::Node& v, const std::string& p) {
    m.channel_mult = r.integers(v, p, false);
    for (std::int64_t x : m.channel_mult) r.require(x >= 1 && x <= 64, v, p, "each multiplier must be in [1, 64]");
    r.require(m.channel_mult.size() <= 12, v, p, "at most 12 levels");
  });
  s.key("attention_resolutions", [&](const YAML::Node& v, const std::string& p) {
    m.attention_resolutions = r.integers(v, p, true);
  });
  for (const char* key : {"channels", "channel_mult", "res_blocks", "attention_resolutions", "dropout", "groups",
                          "head_dim"})
    s.key(key, [&](const YAML::Node& v, const std::string& p) {
      r.require(m.kind == "unet", v, p, "only for model.kind unet (this is " + m.kind + ")");
    });
  s.key("time_embed", [&](const YAML::Node& v, const std::string& p) {
    r.require(m.kind != "dit", v, p, "DiT's frequency embedding is 256 wide, as the reference's; leave it out");
    r.require(m.kind != "unet", v, p, "the U-Net's time features are model.channels wide, as DDPM's; leave it out");
  });
  for (const char* key : {"hidden", "depth"})
    s.key(key, [&](const YAML::Node& v, const std::string& p) {
      r.require(m.kind != "unet", v, p, "not for model.kind unet (its width is model.channels × channel_mult)");
    });
  if (m.size != "custom")
    for (const char* key : {"hidden", "depth", "heads"})
      s.key(key, [&](const YAML::Node& v, const std::string& p) {
        r.require(false, v, p, "model.size " + m.size + " fixes hidden, depth and heads; use size: custom to set them");
      });
  s.integer("hidden", m.hidden, closed(1, 65536));
  s.integer("depth", m.depth, closed(0, 1024));
  s.integer("time_embed", m.time_embed, closed(2, 65536));
  s.key("time_embed", [&](const YAML::Node& v, const std::string& p) {
    r.require(m.time_embed % 2 == 0, v, p, "must be even (cos and sin halves), got " +
                                               std::to_string(m.time_embed));
  });
}

void read_diffusion(const SpecReader& r, const YAML::Node& n, DiffusionSpec& d) {
  const Section s(r, n, "diffusion", {"schedule", "steps", "objective", "min_snr_gamma", "step1_beta",
                                      "variance", "loss", "vlb_weight", "log_snr_max", "log_snr_min", "flow_times",
                                      "logit_normal_mean", "logit_normal_std", "shift", "sigma_min", "sigma_max", "rho",
                                      "sigma_data", "p_mean", "p_std", "betas"});
  s.choice("schedule", d.schedule, {"linear", "cosine", "sohl2015", "log_snr", "flow", "edm"});
  for (const char* key : {"sigma_min", "sigma_max", "rho", "sigma_data", "p_mean", "p_std"})
    s.key(key, [&](const YAML::Node& v, const std::string& p) {
      r.require(d.edm(), v, p, "only for diffusion.schedule edm (this is " + d.schedule + ")");
    });
  s.number("sigma_min", d.sigma_min, above(0));
  s.number("sigma_max", d.sigma_max, above(0));
  s.key("sigma_max", [&](const YAML::Node& v, const std::string& p) {
    r.require(d.sigma_max > d.sigma_min, v, p,
              "must be above diffusion.sigma_min (" + fmt(d.sigma_min) + "), got " + fmt(d.sigma_max));
  });
  s.number("rho", d.rho, above(0));
  s.number("sigma_data", d.sigma_data, above(0), " (leave it out for the data's standard deviation)");
  s.number("p_mean", d.p_mean, closed(-20, 20));
  s.number("p_std", d.p_std, above(0));
  for (const char* key : {"flow_times", "logit_normal_mean", "logit_normal_std", "shift"})
    s.key(key, [&](const YAML::Node& v, const std::string& p) {
      r.require(d.flow(), v, p, "only for diffusion.schedule flow (this is " + d.schedule + ")");
    });
  s.choice("flow_times", d.flow_times, {"uniform", "logit_normal"});
  for (const char* key : {"logit_normal_mean", "logit_normal_std"})
    s.key(key, [&](const YAML::Node& v, const std::string& p) {
      r.require(d.flow_times == "logit_normal", v, p,
                "only for diffusion.flow_times logit_normal (this is " + d.flow_times + ")");
    });
  s.number("logit_normal_mean", d.logit_normal_mean, closed(-10, 10));
  s.number("logit_normal_std", d.logit_normal_std, open_closed(0, 10));
  s.number("shift", d.flow_shift, open_closed(0, 100), " (SD3 uses 3; 1 leaves t as drawn)");
  for (const char* key : {"log_snr_max", "log_snr_min"})
    s.key(key, [&](const YAML::Node& v, const std::string& p) {
      r.require(d.schedule == "log_snr", v, p, "only for diffusion.schedule log_snr (this is " + d.schedule + ")");
    });
  s.number("log_snr_max", d.log_snr_max, closed(-30, 30));
  s.number("log_snr_min", d.log_snr_min, closed(-30, 30));
  s.key("log_snr_min", [&](const YAML::Node& v, const std::string& p) {
    r.require(d.log_snr_min < d.log_snr_max, v, p,
              "must be below diffusion.log_snr_max (" + fmt(d.log_snr_max) + "), got " + fmt(d.log_snr_min));
  });
  s.key("step1_beta", [&](const YAML::Node& v, const std::string& p) {
    r.require(d.schedule == "sohl2015", v, p, "only for diffusion.schedule sohl2015 (this is " + d.schedule + ")");
  });
  s.number("step1_beta", d.step1_beta, half_open(0, 0.5));
  s.integer("steps", d.steps, closed(2, 100000));
  // The linear schedule scales DDPM's β range by 1000/T; β_T = 20/T must stay below 1.
  s.key("steps", [&](const YAML::Node& v, const std::string& p) {
    r.require(d.schedule != "linear" || d.steps >= 21, v, p,
              "the linear schedule needs at least 21 steps (its last β is 20/steps), got " +
                  std::to_string(d.steps));
  });
  s.choice("objective", d.objective, {"eps", "x0", "v", "flow", "edm"});
  // Flow and EDM models regress their own targets on their own paths; the VP objectives need a VP
  // schedule.
  s.key("schedule", [&](const YAML::Node& v, const std::string& p) {
    r.require(!d.flow() || d.objective == "flow", v, p,
              "flow needs diffusion.objective flow (the velocity ε − x0), not " + d.objective);
    r.require(!d.edm() || d.objective == "edm", v, p,
              "edm needs diffusion.objective edm (the preconditioned denoiser), not " + d.objective);
  });
  s.key("objective", [&](const YAML::Node& v, const std::string& p) {
    r.require(d.objective != "flow" || d.flow(), v, p, "flow needs diffusion.schedule flow (this is " + d.schedule + ")");
    r.require(d.objective != "edm" || d.edm(), v, p, "edm needs diffusion.schedule edm (this is " + d.schedule + ")");
  });
  s.number("min_snr_gamma", d.min_snr_gamma, at_least(0), " (0 turns the weighting off)");
  s.key("min_snr_gamma", [&](const YAML::Node& v, const std::string& p) {
    r.require(!d.continuous() || d.min_snr_gamma == 0, v, p,
              "is defined for VP schedules, not diffusion.schedule " + d.schedule);
  });
  s.choice("variance", d.variance, {"fixed_small", "fixed_large", "learned", "learned_full"});
  s.choice("loss", d.loss, {"simple", "vlb", "hybrid"});
  s.choice("betas", d.betas, {"fixed", "learned"});
  s.key("betas", [&](const YAML::Node& v, const std::string& p) {
    r.require(d.betas == "fixed" || (!d.continuous() && d.loss == "vlb"), v, p,
              "learned needs a discrete schedule and diffusion.loss vlb (only the bound can train β)");
  });
  s.key("vlb_weight", [&](const YAML::Node& v, const std::string& p) {
    r.require(d.loss == "hybrid", v, p, "only for diffusion.loss hybrid (this is " + d.loss + ")");
  });
  s.number("vlb_weight", d.vlb_weight, above(0));
  // The bound is written through ε̂, and Min-SNR weights L_simple alone.
  s.key("loss", [&](const YAML::Node& v, const std::string& p) {
    r.require(d.loss == "simple" || d.objective == "eps", v, p,
              d.loss + " needs diffusion.objective eps (this is " + d.objective + ")");
    r.require(d.loss == "simple" || d.min_snr_gamma == 0, v, p,
              d.loss + " cannot be combined with diffusion.min_snr_gamma (it weights the simple loss only)");
  });
  s.key("variance", [&](const YAML::Node& v, const std::string& p) {
    r.require(d.variance.rfind("learned", 0) != 0 || d.loss != "simple", v, p,
              d.variance + " needs diffusion.loss vlb or hybrid (only the bound trains the variance)");
  });
}

void read_optimizer(const SpecReader& r, const YAML::Node& n, OptimizerSpec& o) {
  const Section s(r, n, "optimizer", {"kind", "lr", "weight_decay", "betas", "eps", "grad_clip", "momentum", "nesterov",
                                      "warmup_steps", "schedule", "min_lr", "decay_steps"});
  s.integer("warmup_steps", o.warmup_steps, closed(0, 2e9));
  s.choice("schedule", o.schedule, {"constant", "cosine"});
  s.integer("decay_steps", o.decay_steps, closed(0, 2e9), " (0: train.steps)");
  s.number("min_lr", o.min_lr, at_least(0));
  for (const char* key : {"min_lr", "decay_steps"})
    s.key(key, [&](const YAML::Node& v, const std::string& p) {
      r.require(o.schedule == "cosine", v, p, "only for optimizer.schedule cosine (this is " + o.schedule + ")");
    });
  s.choice("kind", o.kind, {"adamw", "sgd"});
  for (const char* key : {"betas", "eps"})
    s.key(key, [&](const YAML::Node& v, const std::string& p) {
      r.require(o.kind == "adamw", v, p, "is AdamW's; optimizer.kind " + o.kind + " has none");
    });
  for (const char* key : {"momentum", "nesterov"})
    s.key(key, [&](const YAML::Node& v, const std::string& p) {
      r.require(o.kind == "sgd", v, p, "is SGD's; optimizer.kind " + o.kind + " has none (AdamW's is betas[0])");
    });
  s.number("momentum", o.momentum, half_open(0, 1));
  std::string nesterov = o.nesterov ? "true" : "false";
  s.choice("nesterov", nesterov, {"false", "true"});
  o.nesterov = nesterov == "true";
  s.key("nesterov", [&](const YAML::Node& v, const std::string& p) {
    r.require(!o.nesterov || o.momentum > 0, v, p, "needs optimizer.momentum > 0");
  });
  s.number("lr", o.lr, above(0));
  s.key("min_lr", [&](const YAML::Node& v, const std::string& p) {
    r.require(o.min_lr <= o.lr, v, p, "must not exceed optimizer.lr (" + fmt(o.lr) + "), got " + fmt(o.min_lr));
  });
  s.number("weight_decay", o.weight_decay, at_least(0));
  s.key("betas", [&](const YAML::Node& v, const std::string& p) {
    r.require(v.IsSequence() && v.size() == 2, v, p,
              "expected a list of two numbers [beta1, beta2], got " + node_kind(v));
    double* beta[2] = {&o.beta1, &o.beta2};
    for (int i = 0; i < 2; ++i) {
      const std::string pi = p + "[" + std::to_string(i) + "]";
      *beta[i] = r.number(v[i], pi);
      r.require(half_open(0, 1).contains(*beta[i]), v[i], pi, "must be in [0, 1), got " + fmt(*beta[i]));
    }
  });
  s.number("eps", o.eps, above(0));
  s.number("grad_clip", o.grad_clip, at_least(0), " (0 turns clipping off)");
}

void read_train(const SpecReader& r, const YAML::Node& n, TrainSpec& t) {
  const Section s(r, n, "train",
                  {"global_batch", "steps", "ema", "grad_accum", "precision", "recompute", "trace", "trace_steps"});
  s.integer("global_batch", t.global_batch, closed(1, 1 << 24));
  s.integer("steps", t.steps, closed(1, 2e9));
  s.number("ema", t.ema, half_open(0, 1));
  s.integer("grad_accum", t.grad_accum, closed(1, 1 << 20));
  s.choice("precision", t.precision, {"fp32", "bf16"});
  std::string recompute = t.recompute ? "true" : "false";
  s.choice("recompute", recompute, {"false", "true"});
  t.recompute = recompute == "true";
  std::string trace = t.trace ? "true" : "false";
  s.choice("trace", trace, {"false", "true"});
  t.trace = trace == "true";
  s.integer("trace_steps", t.trace_steps, closed(1, 1000000));
  s.key("grad_accum", [&](const YAML::Node& v, const std::string& p) {
    r.require(t.grad_accum <= t.global_batch, v, p,
              str_cat("must not exceed train.global_batch (", t.global_batch, "), got ", t.grad_accum));
  });
}

void read_log(const SpecReader& r, const YAML::Node& n, LogSpec& l) {
  const Section s(r, n, "log", {"every"});
  s.integer("every", l.every, at_least(1));
}

void read_sample(const SpecReader& r, const YAML::Node& n, SampleSpec& c) {
  const Section s(r, n, "sample", {"every", "n", "steps"});
  s.integer("every", c.every, at_least(0));
  s.integer("n", c.n, closed(1, 10000));
  s.integer("steps", c.steps, closed(0, 100000), " (0: DDPM's whole chain)");
}

void read_checkpoint(const SpecReader& r, const YAML::Node& n, CheckpointSpec& c) {
  const Section s(r, n, "checkpoint", {"every", "keep"});
  s.integer("every", c.every, at_least(1));
  s.integer("keep", c.keep, closed(1, 1000000));
}

void read_distributed(const SpecReader& r, const YAML::Node& n, DistributedSpec& d) {
  const Section s(r, n, "distributed", {"timeout_s", "bucket_mb", "zero", "backend"});
  s.number("bucket_mb", d.bucket_mb, closed(0, 1 << 20), " (0: one all-reduce after backward)");
  s.integer("zero", d.zero, closed(0, 1), " (0: no sharding; 1: optimizer state sharded, ZeRO stage 1)");
  s.choice("backend", d.backend, {"auto", "mpi", "nccl"});
  s.integer("timeout_s", d.timeout_s, closed(1, 7 * 24 * 3600));
}

void read_diagnostics(const SpecReader& r, const YAML::Node& n, DiagnosticsSpec& d) {
  const Section s(r, n, "diagnostics", {"every", "noise_scale_ema"});
  s.integer("every", d.every, closed(0, 1LL << 40), " (0: off)");
  s.number("noise_scale_ema", d.noise_scale_ema, half_open(0, 1));
}

void read_debug(const SpecReader& r, const YAML::Node& n, DebugSpec& d) {
  const Section s(r, n, "debug", {"fault"});
  s.key("fault", [&](const YAML::Node& v, const std::string&) {
    const Section f(r, v, "debug.fault", {"rank", "step", "kind"});
    r.require(v["kind"].IsDefined(), v, "debug.fault", "needs kind: throw | exit | hang");
    f.choice("kind", d.fault_kind, {"none", "throw", "exit", "hang"});
    f.integer("rank", d.fault_rank, closed(0, 1 << 24));
    f.integer("step", d.fault_step, closed(1, 2e9));
  });
}

// Applies `key.path=value` to the document; returns the path it set.
std::string apply_override(YAML::Node& root, const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw UsageError("--set '" + text + "': expected key.path=value");
  const std::string path = text.substr(0, eq), value_text = text.substr(eq + 1);
  std::vector<std::string> keys;
  std::stringstream ss(path);
  for (std::string k; std::getline(ss, k, '.');) {
    if (k.empty()) throw UsageError("--set '" + text + "': empty key in '" + path + "'");
    keys.push_back(k);
  }
  YAML::Node value;
  try {
    value = YAML::Load(value_text);
  } catch (const YAML::Exception& e) {
    throw UsageError("--set '" + text + "': the value is not valid YAML: " + e.msg);
  }
  if (!value.IsDefined() || value.IsNull())
    throw UsageError("--set '" + text + "': no value given after '='");
  YAML::Node cur = root;
  std::string at;
  for (std::size_t i = 0; i + 1 < keys.size(); ++i) {
    at = join_path(at, keys[i]);
    YAML::Node next = cur[keys[i]];
    if (next.IsDefined() && !next.IsNull() && !next.IsMap())
      throw UsageError("--set '" + text + "': '" + at + "' is a value, not a section");
    if (!next.IsDefined() || next.IsNull()) cur[keys[i]] = YAML::Node(YAML::NodeType::Map);
    cur.reset(cur[keys[i]]);
  }
  cur[keys.back()] = value;
  return path;
}

}  // namespace

std::int64_t DataSpec::dim() const {
  if (image()) return channels * side() * side();
  if (kind == "gaussian") return std::int64_t(mean.size());
  if (kind == "gaussian_mixture") return means.empty() ? 0 : std::int64_t(means[0].size());
  return 2;
}

JobSpec parse_job_spec(const std::string& yaml_text, const std::string& source_name,
                       const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    throw UsageError(str_cat(source_name, ":", e.mark.line + 1, ":", e.mark.column + 1,
                             ": not valid YAML: ", e.msg));
  }
  if (root.IsNull() || !root.IsDefined()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap())
    throw UsageError(source_name + ": a job spec is a mapping of sections, got " + node_kind(root));

  std::map<std::string, std::string> overridden;
  for (const std::string& o : overrides) overridden[apply_override(root, o)] = o;

  const SpecReader r(source_name, overridden);
  const YAML::Node& top = root;
  const Section s(r, top, "",
                  {"name", "seed", "data", "model", "diffusion", "optimizer", "train", "log",
                   "checkpoint", "distributed", "debug", "sample", "diagnostics"});
  JobSpec spec;
  if (!top["name"].IsDefined())
    throw UsageError(source_name + ": missing key 'name' (it names the run folder)");
  s.key("name", [&](const YAML::Node& v, const std::string& p) {
    spec.name = r.scalar(v, p, "a name");
    const bool ok = !spec.name.empty() && spec.name.size() <= 128 && spec.name[0] != '.' &&
                    std::all_of(spec.name.begin(), spec.name.end(), [](char c) {
                      return std::isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
                    });
    r.require(ok, v, p, "must be 1-128 letters, digits, '_', '-' or '.', not starting with '.' "
              "(it names the run folder), got '" + spec.name + "'");
  });
  std::int64_t seed = 0;
  s.integer("seed", seed, closed(0, 9.0e15));
  spec.seed = std::uint64_t(seed);
  s.key("data", [&](const YAML::Node& v, const std::string&) { read_data(r, v, spec.data); });
  s.key("model", [&](const YAML::Node& v, const std::string&) { read_model(r, v, spec.model); });
  s.key("diffusion", [&](const YAML::Node& v, const std::string&) { read_diffusion(r, v, spec.diffusion); });
  s.key("optimizer", [&](const YAML::Node& v, const std::string&) { read_optimizer(r, v, spec.optimizer); });
  s.key("train", [&](const YAML::Node& v, const std::string&) { read_train(r, v, spec.train); });
  s.key("log", [&](const YAML::Node& v, const std::string&) { read_log(r, v, spec.log); });
  s.key("checkpoint", [&](const YAML::Node& v, const std::string&) { read_checkpoint(r, v, spec.checkpoint); });
  s.key("sample", [&](const YAML::Node& v, const std::string& p) {
    read_sample(r, v, spec.sample);
    r.require(spec.sample.every == 0 || spec.data.image(), v, p, "sample grids are for image data");
  });
  s.key("distributed", [&](const YAML::Node& v, const std::string&) { read_distributed(r, v, spec.distributed); });
  s.key("debug", [&](const YAML::Node& v, const std::string&) { read_debug(r, v, spec.debug); });
  s.key("diagnostics", [&](const YAML::Node& v, const std::string&) { read_diagnostics(r, v, spec.diagnostics); });
  s.key("model", [&](const YAML::Node& v, const std::string&) {
    const YAML::Node kind = v["kind"];
    r.require(spec.model.kind != "exact" || spec.data.kind != "swissroll", kind.IsDefined() ? kind : v,
              "model.kind", "exact needs data.kind gaussian or gaussian_mixture (the Swiss roll has no closed-form score)");
    r.require(spec.model.kind != "exact" || spec.diffusion.betas == "fixed", kind.IsDefined() ? kind : v,
              "model.kind", "exact has no learned β: set diffusion.betas fixed");
    r.require(spec.model.kind != "exact" || spec.diffusion.variance.rfind("learned", 0) != 0, kind.IsDefined() ? kind : v,
              "model.kind", "exact has no learned variance: set diffusion.variance fixed_small or fixed_large");
  });
  s.key("train", [&](const YAML::Node& v, const std::string&) {
    const YAML::Node recompute = v["recompute"], precision = v["precision"];
    r.require(!spec.train.recompute || spec.model.kind == "dit", recompute.IsDefined() ? recompute : v,
              "train.recompute", "only for model.kind dit (this is " + spec.model.kind + ")");
    r.require(spec.train.precision != "bf16" || spec.diffusion.betas == "fixed", precision.IsDefined() ? precision : v,
              "train.precision", "bf16 cannot train diffusion.betas learned (its gradient is float32 host code): "
                                 "use fp32");
  });
  s.key("model", [&](const YAML::Node& v, const std::string&) {
    const YAML::Node kind = v["kind"];
    const YAML::Node& at = kind.IsDefined() ? kind : v;
    r.require(spec.model.kind != "dit" || spec.data.image(), at, "model.kind",
              "dit needs image data (data.kind fashion_mnist, idx, npy or dead_leaves)");
    r.require(spec.model.kind != "dit" || spec.data.side() % spec.model.patch == 0, at, "model.patch",
              str_cat("model.patch ", spec.model.patch, " must divide the image side ", spec.data.side(),
                      " (data.pad_to can pad it)"));
    r.require(spec.model.kind != "dit" || spec.diffusion.betas == "fixed", at, "model.kind",
              "dit has no input gradient for learned β (diffusion.betas learned needs model.kind mlp)");
    if (spec.model.kind == "unet") {
      const ModelSpec& m = spec.model;
      r.require(spec.data.image(), at, "model.kind", "unet needs image data (data.kind fashion_mnist, idx, npy or dead_leaves)");
      r.require(spec.diffusion.betas == "fixed", at, "model.kind",
                "unet has no input gradient for learned β (diffusion.betas learned needs model.kind mlp)");
      const std::int64_t side = spec.data.side(), levels = std::int64_t(m.channel_mult.size());
      const YAML::Node mult = v["channel_mult"], attn = v["attention_resolutions"];
      r.require(levels <= 30 && side % (std::int64_t(1) << (levels - 1)) == 0, mult.IsDefined() ? mult : v,
                "model.channel_mult",
                str_cat(levels, " levels halve the side ", levels - 1, " times, but the image side ", side,
                        " is not divisible by ", std::int64_t(1) << std::min<std::int64_t>(levels - 1, 30),
                        " (data.pad_to can pad it)"));
      std::string sides;
      for (std::int64_t l = 0; l < levels; ++l) sides += (l ? ", " : "") + std::to_string(side >> l);
      for (std::int64_t a : m.attention_resolutions) {
        bool found = false;
        for (std::int64_t l = 0; l < levels; ++l) found = found || (side >> l) == a;
        r.require(found, attn.IsDefined() ? attn : v, "model.attention_resolutions",
                  str_cat(a, " is not the side of a level (", sides, ")"));
      }
      for (std::int64_t l = 0; l < levels; ++l) {
        const std::int64_t c = m.channels * m.channel_mult[std::size_t(l)];
        r.require(c % m.groups == 0, v["groups"].IsDefined() ? v["groups"] : v, "model.groups",
                  str_cat(m.groups, " groups do not divide level ", l, "'s ", c, " channels"));
        const bool attends = l == levels - 1 || std::find(m.attention_resolutions.begin(), m.attention_resolutions.end(),
                                                          side >> l) != m.attention_resolutions.end();
        r.require(m.head_dim == 0 || !attends || c % m.head_dim == 0, v["head_dim"].IsDefined() ? v["head_dim"] : v,
                  "model.head_dim", str_cat(m.head_dim, " does not divide the ", c, " channels of level ", l,
                                            ", which has attention"));
      }
    }
    if (spec.model.kind == "dit" && spec.model.size == "custom")
      r.require(spec.model.hidden % spec.model.heads == 0 && spec.model.hidden % 4 == 0, at, "model.hidden",
                str_cat("must be a multiple of 4 and of model.heads (", spec.model.heads, "), got ", spec.model.hidden));
  });
  s.key("diffusion", [&](const YAML::Node& v, const std::string&) {
    const YAML::Node var = v["variance"];
    r.require(spec.diffusion.variance != "learned_full" || spec.data.dim() <= DiffusionSpec::kMaxFullCovarianceDim,
              var.IsDefined() ? var : v, "diffusion.variance",
              str_cat("learned_full is for data of at most ", DiffusionSpec::kMaxFullCovarianceDim,
                      " dimensions (this has ", spec.data.dim(), "); use learned"));
    r.require(spec.diffusion.variance != "learned_full" || spec.data.quantize == "none", var.IsDefined() ? var : v,
              "diffusion.variance", "learned_full has no discretised decoder for data.quantize 8bit; use learned");
  });
  return spec;
}

std::string format_number(double v) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, ptr);
}

JobSpec load_job_spec(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read job spec '" + path + "': " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  return parse_job_spec(text.str(), path, overrides);
}

}  // namespace carnot
