// carnot align: how alike two trained models' hidden representations are (eval/alignment.h).
// Both see the same probe inputs: n points of the data (Fashion-MNIST's test split), noised to
// step t with the same ε, with their labels; each model's features at the layer (default: its
// middle block) are compared by linear CKA and mutual kNN, against a permutation null.
#include <algorithm>
#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>

#include "framework/cli/commands.h"
#include "framework/core/error.h"
#include "framework/core/random.h"
#include "framework/data/dataset.h"
#include "framework/diffusion/schedule.h"
#include "framework/eval/alignment.h"
#include "framework/train/checkpoint.h"
#include "framework/train/model_weights.h"
#include "framework/train/networks.h"

namespace carnot {

namespace {

struct Probe {
  std::int64_t n = 0, dim = 0;
  std::vector<float> x0;
  std::vector<std::int64_t> labels;  // empty for unlabelled data
};

// The features of one model at `layer` for the probe noised to step t: [n, width].
std::vector<float> features_of(const std::string& dir, const std::string& wanted_layer, const Probe& probe,
                               int t, std::uint64_t seed, bool no_ema, std::string* layer, std::int64_t* width) {
  const JobSpec spec = load_job_spec(dir + "/job.yaml");
  if (spec.model.kind == "exact") throw UsageError("--ckpt " + dir + ": model.kind exact has no hidden features");
  if (spec.diffusion.continuous())
    throw UsageError("--ckpt " + dir + ": diffusion.schedule " + spec.diffusion.schedule +
                     ": align probes discrete-time (ε/x0/v) models; continuous time is not supported yet");
  if (spec.data.dim() != probe.dim)
    throw UsageError(str_cat("--ckpt ", dir, ": the model takes ", spec.data.dim(), " values per sample, the probe data has ",
                             probe.dim, " (give --data with the model's data)"));
  const NoiseSchedule schedule = make_schedule(spec.diffusion);
  if (t >= schedule.steps())
    throw UsageError(str_cat("--t ", t, ": ", dir, " has diffusion steps 0 to ", schedule.steps() - 1));
  const std::int64_t chunk = std::min<std::int64_t>(probe.n, 128);
  auto net = make_score_network(spec, cpu_ops(), chunk, spec.seed);
  load_weights(dir + (no_ema ? "/model" : "/ema") + ".safetensors", net->params(), net->params().values());
  const std::vector<std::string> layers = net->feature_layers();
  if (layers.empty()) throw UsageError("--ckpt " + dir + ": model.kind " + spec.model.kind + " keeps no hidden features yet");
  *layer = wanted_layer.empty() ? net->default_feature_layer() : wanted_layer;
  if (std::find(layers.begin(), layers.end(), *layer) == layers.end()) {
    std::string names;
    for (const std::string& l : layers) names += (names.empty() ? "" : ", ") + l;
    throw UsageError("--layer " + *layer + ": " + dir + " has no such feature layer (it has " + names + ")");
  }
  const double a = std::sqrt(schedule.alphas_cumprod[std::size_t(t)]), s = std::sqrt(1 - schedule.alphas_cumprod[std::size_t(t)]);
  const std::int64_t classes = spec.model.kind == "mlp" ? 0 : spec.data.num_classes;
  std::vector<float> x(std::size_t(chunk * probe.dim)), out(std::size_t(chunk * net->outputs())), times(static_cast<std::size_t>(chunk), float(t));
  std::vector<std::int64_t> y(std::size_t(chunk), classes);
  std::vector<float> features;
  for (std::int64_t first = 0; first < probe.n; first += chunk) {
    const std::int64_t rows = std::min(chunk, probe.n - first);
    for (std::int64_t i = 0; i < rows; ++i) {  // x_t = √ᾱ x0 + √(1 − ᾱ) ε, ε keyed by probe index
      float* xi = x.data() + i * probe.dim;
      philox_normals(seed, 0, std::uint32_t(first + i), RngStream::kBoundNoise, probe.dim, xi);
      const float* x0 = probe.x0.data() + (first + i) * probe.dim;
      for (std::int64_t d = 0; d < probe.dim; ++d) xi[d] = float(a * x0[d] + s * xi[d]);
      if (classes > 0 && !probe.labels.empty()) y[std::size_t(i)] = probe.labels[std::size_t(first + i)];
    }
    net->forward(Tensor(x.data(), DType::F32, Shape{rows, probe.dim}), times.data(), classes > 0 ? y.data() : nullptr,
                 Tensor(out.data(), DType::F32, Shape{rows, net->outputs()}));
    const Tensor f = net->features(*layer);
    *width = f.dim(1);
    if (features.empty()) features.reserve(std::size_t(probe.n * *width));
    features.insert(features.end(), f.data<float>(), f.data<float>() + rows * *width);
  }
  return features;
}

}  // namespace

int run_align(const AlignArgs& args) {
  if (args.ckpts.size() != 2) throw UsageError(str_cat("give --ckpt twice (two models), got ", args.ckpts.size()));
  const std::string dir_a = resolve_checkpoint(args.ckpts[0]), dir_b = resolve_checkpoint(args.ckpts[1]);
  const JobSpec data_job = load_job_spec(args.data.empty() ? dir_a + "/job.yaml" : args.data);
  if (args.k >= args.n) throw UsageError(str_cat("-k ", args.k, " must be below -n ", args.n));
  DataSpec data = data_job.data;
  if (data.kind == "fashion_mnist") data.split = "test";
  data.flip = false;
  const auto dataset = make_dataset(data);
  const std::uint64_t seed = args.seed_given ? args.seed : data_job.seed;
  Probe probe;
  probe.n = args.n;
  probe.dim = dataset->dim();
  probe.x0.resize(std::size_t(probe.n * probe.dim));
  dataset->fill(seed, 0, 0, probe.n, RngStream::kEvalData, probe.x0.data());
  if (dataset->num_classes() > 0) {
    probe.labels.resize(std::size_t(probe.n));
    dataset->fill_labels(seed, 0, 0, probe.n, probe.labels.data());
  }
  const int t = args.t >= 0 ? args.t : int(make_schedule(data_job.diffusion).steps() / 4);
  std::string layer_a, layer_b;
  std::int64_t width_a = 0, width_b = 0;
  const std::vector<float> fa = features_of(dir_a, args.layer, probe, t, seed, args.no_ema, &layer_a, &width_a);
  const std::vector<float> fb = features_of(dir_b, args.layer, probe, t, seed, args.no_ema, &layer_b, &width_b);
  const Gram ga = gram_of_rows(fa.data(), probe.n, width_a, true), gb = gram_of_rows(fb.data(), probe.n, width_b, true);
  const Alignment r = align(ga, gb, args.k, args.permutations, seed ^ 0x5851f42d4c957f2dull);
  std::printf("carnot: align %s (%s, %lld features) with %s (%s, %lld features)\n", dir_a.c_str(), layer_a.c_str(),
              (long long)width_a, dir_b.c_str(), layer_b.c_str(), (long long)width_b);
  std::printf("  probe: %lld points of %s%s noised to t = %d (seed %llu), features L2-normalised\n", (long long)probe.n,
              data.kind.c_str(), data.kind == "fashion_mnist" ? " (test split)" : "", t, (unsigned long long)seed);
  const bool with_null = args.permutations > 0;
  auto null_note = [&](double mean, double sd) {
    char buf[96];
    if (with_null)
      std::snprintf(buf, sizeof buf, "permutation null %.4f ± %.4f over %d", mean, sd, args.permutations);
    else
      std::snprintf(buf, sizeof buf, "no permutation null: --permutations 0");
    return std::string(buf);
  };
  std::printf("  linear CKA        %.4f   (%s)\n", r.cka, null_note(r.cka_null, r.cka_null_sd).c_str());
  std::printf("  mutual %d-NN      %.4f   (%s; chance k/(n−1) = %.4f)\n", args.k, r.mknn,
              null_note(r.mknn_null, r.mknn_null_sd).c_str(), double(args.k) / double(probe.n - 1));
  // Without permutations the null is not measured: null in the JSON, not a zero.
  auto measured = [&](double v) { return with_null ? nlohmann::json(v) : nlohmann::json(nullptr); };
  const nlohmann::json line = {{"cka", r.cka},
                               {"mknn", r.mknn},
                               {"cka_null", measured(r.cka_null)},
                               {"mknn_null", measured(r.mknn_null)},
                               {"cka_null_sd", measured(r.cka_null_sd)},
                               {"mknn_null_sd", measured(r.mknn_null_sd)},
                               {"n", probe.n},
                               {"k", args.k},
                               {"t", t},
                               {"layer_a", layer_a},
                               {"layer_b", layer_b},
                               {"step_a", checkpoint_step(dir_a)},
                               {"step_b", checkpoint_step(dir_b)}};
  std::printf("%s\n", line.dump().c_str());
  return 0;
}

}  // namespace carnot
