// carnot eval (--ckpt RUN | --job JOB.yaml) --metric nll [-n N] [--seed S]: the variational bound
// on fresh data. For 8-bit data (data.quantize 8bit) the last stdout line is one JSON object with
// bits_per_dim (DDPM's discretised decoder; lower is better), bits_per_dim_stderr, n, steps,
// t_samples, and for padded images (data.pad_to) bits_per_image_dim: the canvas's bits over the
// unpadded image's values. For continuous data, in bits per point:
//   bits (K, the lower bound on the log-likelihood, higher is better), bits_minus_null (K minus
//   the identity Gaussian's log-likelihood on the same points), bits_stderr, n, steps, t_samples
//   (0: every t summed; else Monte Carlo over t, whose scatter bits_stderr includes).
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "framework/cli/commands.h"
#include "framework/cli/model_source.h"
#include "framework/data/dataset.h"
#include "framework/diffusion/likelihood.h"
#include "framework/train/trainer.h"

namespace carnot {

int run_eval(Comm& comm, const EvalArgs& args) {
  const Slice slice = batch_slice(args.n, comm.rank(), comm.size());
  ModelSource source(comm, args.device, args.ckpt, args.job, args.overrides, args.no_ema,
                     std::max<std::int64_t>(1, std::min<std::int64_t>(slice.count, 2048)));
  const std::int64_t chunk = source.max_rows();  // what fits the device
  if (source.spec().diffusion.continuous())
    throw_on_all_ranks(UsageError("--metric nll: the variational bound needs a discrete diffusion chain; " +
                                  source.description() + " is a continuous-time model (diffusion.schedule " +
                                  source.spec().diffusion.schedule + ")"));
  const std::uint64_t seed = args.seed_given ? args.seed : source.spec().seed;
  // A class-conditional model is evaluated unconditionally (its null class); Fashion-MNIST on its
  // test split.
  if (source.num_classes() > 0) {
    try {
      source.set_class(-1, 1.0);
    } catch (const Error& e) {
      throw_on_all_ranks(UsageError(std::string("--metric nll: ") + e.what()));
    }
  }
  DataSpec eval_data = source.spec().data;
  if (eval_data.kind == "fashion_mnist") eval_data.split = "test";
  eval_data.flip = false;
  const auto data = make_dataset(eval_data);
  const std::int64_t dim = data->dim();
  // This rank's points of the evaluation stream, and the bound's draws keyed by global index.
  std::vector<float> x(static_cast<std::size_t>(std::max<std::int64_t>(1, slice.count * dim)));
  data->fill(seed, 0, std::uint32_t(slice.begin), slice.count, RngStream::kEvalData, x.data());
  const BoundEstimate b = variational_bound(source.reverse_model(), source.schedule(), seed ^ 0x9e3779b97f4a7c15ull,
                                            slice.count, dim, x.data(), chunk, args.t_samples,
                                            data->bin_half_width());
  const bool discrete = data->bin_half_width() > 0;
  // Sums over this rank's points: bound, bound², identity-Gaussian log-likelihood (nats).
  double sums[3] = {0, 0, 0};
  for (std::int64_t j = 0; j < slice.count; ++j) {
    const double l = b.nats[std::size_t(j)];
    sums[0] += l, sums[1] += l * l;
    for (std::int64_t d = 0; d < dim; ++d)
      sums[2] -= 0.5 * (double(x[j * dim + d]) * x[j * dim + d] + std::log(2 * M_PI));
  }
  comm.allreduce_sum(sums, 3);
  std::vector<double> steps = b.step_nats;
  for (double& s : steps) s *= double(slice.count);
  comm.allreduce_sum(steps.data(), std::int64_t(steps.size()));
  if (comm.rank() != 0) return 0;

  const double n = double(args.n), ln2 = std::log(2.0);
  const double mean = sums[0] / n, var = std::max(0.0, sums[1] / n - mean * mean);
  const double bits = -mean / ln2, null_bits = sums[2] / n / ln2;
  const int T = source.schedule().steps();
  std::printf("carnot: variational bound of %s on %lld fresh points (seed %llu), T = %d\n",
              source.description().c_str(), (long long)args.n, (unsigned long long)seed, T);
  std::printf("  terms in bits per point: decoder %.4f, steps 2..%d %.4f, prior %.4f\n", steps[0] / n / ln2, T,
              [&] { double s = 0; for (int t = 1; t < T; ++t) s += steps[std::size_t(t)]; return s / n / ln2; }(),
              steps[std::size_t(T)] / n / ln2);
  if (args.per_step) {
    std::printf("  %6s %12s\n", "t", "bits");
    for (int t = 0; t <= T; ++t)
      std::printf("  %6s %12.5f\n", t == T ? "prior" : std::to_string(t + 1).c_str(), steps[std::size_t(t)] / n / ln2);
  }
  nlohmann::ordered_json out;
  if (discrete) {  // 8-bit data: DDPM's convention, −log₂ P per dimension, lower is better
    out = {{"metric", "nll"},
           {"bits_per_dim", mean / ln2 / double(dim)},
           {"bits_per_dim_stderr", std::sqrt(var / n) / ln2 / double(dim)},
           {"n", args.n},
           {"steps", T},
           {"t_samples", args.t_samples}};
    // Padded images (data.pad_to): the canvas's bits over the image's own pixels. P(image) ≥
    // P(image, its constant border), so this bounds −log₂ P(image) per pixel from above and is
    // the figure to compare with models of the unpadded images.
    const std::int64_t image_dim = eval_data.image() ? eval_data.channels * eval_data.image_size * eval_data.image_size : dim;
    if (image_dim != dim) {
      out["bits_per_image_dim"] = mean / ln2 / double(image_dim);
      out["bits_per_image_dim_stderr"] = std::sqrt(var / n) / ln2 / double(image_dim);
      out["image_dims"] = image_dim;
      out["canvas_dims"] = dim;
      std::printf("  %.4f ± %.4f bits per dimension of the %lld-value canvas; %.4f ± %.4f per value of the %lld-value "
                  "image inside it (an upper bound: the border's bits are counted)\n",
                  mean / ln2 / double(dim), std::sqrt(var / n) / ln2 / double(dim), (long long)dim,
                  mean / ln2 / double(image_dim), std::sqrt(var / n) / ln2 / double(image_dim), (long long)image_dim);
    }
  } else {
    out = {{"metric", "nll"},
           {"bits", bits},
           {"bits_minus_null", bits - null_bits},
           {"bits_stderr", std::sqrt(var / n) / ln2},
           {"null_bits", null_bits},
           {"n", args.n},
           {"steps", T},
           {"t_samples", args.t_samples}};
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace carnot
