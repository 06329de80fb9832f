// carnot sample --ckpt RUN_DIR -n N --out FILE.npy [--seed S] [--no-ema] [--quality-gate R]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <filesystem>
#include <vector>

#include "framework/cli/commands.h"
#include "framework/cli/model_source.h"
#include "framework/core/error.h"
#include "framework/data/dataset.h"
#include "framework/data/gaussian_mixture.h"
#include "framework/diffusion/ddim_sampler.h"
#include "framework/diffusion/ddpm_sampler.h"
#include "framework/diffusion/edm.h"
#include "framework/diffusion/exact_eps.h"
#include "framework/diffusion/flow_matching.h"
#include "framework/diffusion/ode_sampler.h"
#include "framework/dist/agree.h"
#include "framework/eval/sample_quality.h"
#include "framework/io/file_util.h"
#include "framework/io/job_spec.h"
#include "framework/eval/image_grid.h"
#include "framework/eval/scatter_plot.h"
#include "framework/io/npy.h"
#include "framework/io/png.h"
#include "framework/nn/mlp_score_net.h"
#include "framework/train/checkpoint.h"
#include "framework/train/model_weights.h"
#include "framework/train/trainer.h"

namespace carnot {

namespace {

// Per-dimension mean and standard deviation of the samples beside the data's true ones.
void print_moments(const GaussianMixture& g, const std::vector<float>& x, std::int64_t dim) {
  const std::int64_t n = std::int64_t(x.size()) / dim;
  const auto mu = g.mean(), sd = g.stddev();
  for (std::int64_t d = 0; d < dim; ++d) {
    double m = 0, m2 = 0, m4 = 0;
    for (std::int64_t j = 0; j < n; ++j) m += x[j * dim + d];
    m /= double(n);
    for (std::int64_t j = 0; j < n; ++j) {
      const double c = x[j * dim + d] - m;
      m2 += c * c, m4 += c * c * c * c;
    }
    m2 /= double(n), m4 /= double(n);
    const double s = std::sqrt(m2), se_mean = s / std::sqrt(double(n));
    const double se_sd = std::sqrt((m4 - m2 * m2) / double(n)) / (2 * s);
    std::printf("moments: dim %lld mean %+.4f (true %+.4f, z %+.2f), std %.4f (true %.4f, z %+.2f)\n",
                (long long)d, m, mu[d], (m - mu[d]) / se_mean, s, sd[d], (s - sd[d]) / se_sd);
  }
}

// The sampler a model allows: flow models flow_euler; EDM models euler or heun in σ; discrete
// chains ddpm, ddim, euler or heun. An empty request takes the first of these.
std::string choose_sampler(const DiffusionSpec& d, const std::string& requested) {
  const std::vector<std::string> allowed = d.flow() ? std::vector<std::string>{"flow_euler"}
                                           : d.edm() ? std::vector<std::string>{"heun", "euler"}
                                                     : std::vector<std::string>{"ddpm", "ddim", "euler", "heun"};
  if (requested.empty()) return allowed.front();
  if (std::find(allowed.begin(), allowed.end(), requested) != allowed.end()) return requested;
  std::string list;
  for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
  throw_on_all_ranks(UsageError("--sampler " + requested + " does not apply to this model (diffusion.schedule " +
                                d.schedule + "); it samples with " + list));
}

}  // namespace

std::string resolve_checkpoint(const std::string& ckpt) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(ckpt))
    throw UsageError("--ckpt '" + ckpt + "' is not a run folder or checkpoint folder");
  std::string dir = ckpt;
  if (!fs::exists(ckpt + "/state.json")) {
    std::vector<std::string> skipped;
    const auto good = newest_good_checkpoint(ckpt, &skipped);
    if (!good && skipped.empty())
      throw UsageError("--ckpt '" + ckpt + "' holds no checkpoint (did training run?)");
    std::string why;
    for (const std::string& s : skipped) why += "\n  " + s;
    if (!good) throw UsageError("--ckpt '" + ckpt + "': no checkpoint verifies:" + why);
    for (const std::string& s : skipped) std::fprintf(stderr, "carnot: skipping checkpoint %s\n", s.c_str());
    dir = *good;
  }
  const std::string problem = verify_checkpoint(dir);
  if (!problem.empty()) throw UsageError("checkpoint '" + dir + "' does not verify: " + problem);
  return dir;
}

int run_sample(Comm& comm, const SampleArgs& args) {
  for (const std::string& o : args.out) {
    const bool npy = o.size() > 4 && o.substr(o.size() - 4) == ".npy";
    const bool png = o.size() > 4 && o.substr(o.size() - 4) == ".png";
    if (!npy && !png) {
      throw_on_all_ranks(UsageError("--out '" + o + "': the file name must end in .npy or .png"));
    }
  }
  ModelSource source(comm, args.device, args.ckpt, args.job, args.overrides, args.no_ema,
                     std::max<std::int64_t>(1, std::min<std::int64_t>(batch_slice(args.n, 0, comm.size()).count, 2048)));
  const std::int64_t chunk = source.max_rows();  // what fits the device
  const JobSpec& spec = source.spec();
  const NoiseSchedule& schedule = source.schedule();
  const std::uint64_t seed = args.seed_given ? args.seed : spec.seed;
  const auto data = make_dataset(spec.data);
  const std::int64_t dim = data->dim();
  const bool flow = spec.diffusion.flow(), edm = spec.diffusion.edm();
  const std::string sampler = choose_sampler(spec.diffusion, args.sampler);
  const int steps = args.steps > 0 ? args.steps : spec.diffusion.continuous() ? int(spec.diffusion.steps) : schedule.steps();
  if (!spec.diffusion.continuous() && steps > schedule.steps()) {
    throw_on_all_ranks(UsageError(str_cat("--steps ", steps, " exceeds the ", schedule.steps(), " steps of the schedule")));
  }
  // Images live in [−1, 1]: DDPM and DDIM clip their x̂0 there, as DDPM's code does for images.
  const double clip_x0 = spec.data.image() ? 1.0 : 0.0;
  // Samples [first, first + count) of the global stream, with the source's class.
  auto draw = [&](std::uint32_t first, std::int64_t count, float* out) {
    if (flow)
      flow_euler_sample(source.predictor(), steps, spec.diffusion.flow_shift, seed, first, count, dim, chunk, out);
    else if (edm)
      edm_sample(source.denoiser(), source.edm(), steps, sampler == "euler" ? EdmMethod::kEuler : EdmMethod::kHeun, seed,
                 first, count, dim, chunk, out);
    else if (sampler == "ddpm" && steps == schedule.steps())
      ddpm_sample(source.reverse_model(), schedule, seed, first, count, dim, chunk, out, clip_x0);
    else if (sampler == "euler" || sampler == "heun")
      ode_sample(source.predictor(), schedule, steps, sampler == "euler" ? OdeMethod::kEuler : OdeMethod::kHeun, seed,
                 first, count, dim, chunk, out);
    else  // DDIM; with eta 1 it is DDPM's ancestral sampler on the respaced chain
      ddim_sample(source.predictor(), schedule, steps, sampler == "ddpm" ? 1.0 : args.eta, seed, first, count, dim,
                  chunk, out, clip_x0);
  };
  // Blocks of samples that share a class: for a class-conditional model one per class by default
  // (--class all: the grid's rows), one class (--class K) or the null class (--class null); every
  // rank takes its share of each block.
  struct Block {
    std::int64_t label, begin, count;
  };
  std::vector<Block> blocks;
  const std::int64_t classes = source.num_classes();
  const std::string which = args.class_label.empty() ? (classes > 0 ? "all" : "null") : args.class_label;
  if (classes > 0 && which == "all") {
    for (std::int64_t k = 0, at = 0; k < classes; ++k) {
      const std::int64_t c = batch_slice(args.n, int(k), int(classes)).count;
      blocks.push_back({k, at, c});
      at += c;
    }
  } else {
    std::int64_t label = -1;
    if (which != "null") {
      try {
        std::size_t used = 0;
        label = std::stoll(which, &used);
        if (used != which.size() || label < 0) throw std::invalid_argument(which);
      } catch (const std::exception&) {
        throw_on_all_ranks(UsageError("--class '" + which + "': give a class index, all or null"));
      }
    }
    blocks.push_back({label, 0, args.n});
  }
  std::vector<float> all(comm.rank() == 0 ? std::size_t(args.n * dim) : 0);
  for (const Block& b : blocks) {
    if (classes > 0 || b.label >= 0 || args.cfg_scale != 1) {
      try {
        source.set_class(b.label, args.cfg_scale);
      } catch (const Error& e) {
        throw_on_all_ranks(UsageError(e.what()));
      }
    }
    const Slice slice = batch_slice(b.count, comm.rank(), comm.size());
    std::vector<float> local(static_cast<std::size_t>(std::max<std::int64_t>(1, slice.count * dim)));
    draw(std::uint32_t(b.begin + slice.begin), slice.count, local.data());
    std::vector<std::int64_t> counts;
    for (int r = 0; r < comm.size(); ++r) counts.push_back(batch_slice(b.count, r, comm.size()).count * dim);
    comm.gather(local.data(), slice.count * dim, counts, comm.rank() == 0 ? all.data() + b.begin * dim : nullptr);
  }
  std::string how = sampler == "ddim" ? str_cat("DDIM eta ", args.eta, ", ", steps, " steps")
                                      : str_cat(sampler, ", ", steps, " steps");
  if (edm) how += str_cat(" over EDM's σ from ", source.edm().sigma_max, " to ", source.edm().sigma_min, ", ρ ", source.edm().rho);
  // Learned variances are logits against the training schedule's β, so only the full chain uses them.
  if (sampler == "ddpm")
    how += steps == schedule.steps() ? ", variance " + spec.diffusion.variance
                                     : std::string(", respaced with the posterior variance β̃ of the shorter chain");
  if (classes > 0)
    how += which == "all" ? str_cat(", classes 0 to ", classes - 1, " in turn") : which == "null" ? ", unconditional" : ", class " + which;
  if (args.cfg_scale != 1) how += str_cat(", guidance scale ", args.cfg_scale);
  if (spec.data.image()) {  // pictures and arrays; no quality figure for images yet
    run_on_root_and_agree(comm, [&] {
      const std::int64_t C = spec.data.channels, S = spec.data.side();
      for (const std::string& o : args.out) {
        if (o.substr(o.size() - 4) == ".npy") {
          write_npy_u8(o, {args.n, S, S, C}, images_to_u8_hwc(all.data(), args.n, C, S).data());
        } else {
          const std::int64_t cols = blocks.size() > 1 ? std::max<std::int64_t>(1, blocks[0].count)
                                                      : std::int64_t(std::ceil(std::sqrt(double(args.n))));
          const Image img = image_grid(all.data(), args.n, C, S, std::min<std::int64_t>(cols, 64));
          write_png_rgb(o, img.width, img.height, img.rgb);
        }
        std::printf("carnot: %lld images %lldx%lldx%lld (%s, seed %llu, %s) written to %s\n", (long long)args.n,
                    (long long)C, (long long)S, (long long)S, source.description().c_str(), (unsigned long long)seed,
                    how.c_str(), o.c_str());
      }
      std::fflush(stdout);
    });
    return 0;
  }
  int code = 0;
  run_on_root_and_agree(comm, [&] {
    std::vector<float> fresh;
    for (const std::string& o : args.out) {
      if (o.substr(o.size() - 4) == ".npy") {
        write_npy(o, DType::F32, {args.n, dim}, all.data());
      } else {
        if (dim != 2) throw UsageError("--out '" + o + "': a picture needs 2-D data, this is " + std::to_string(dim) + "-D");
        fresh.resize(all.size());
        data->fill(seed, 0, 0, args.n, RngStream::kEvalData, fresh.data());
        const Image img = scatter_panels({{"SAMPLES", all.data(), args.n}, {"DATA", fresh.data(), args.n}});
        write_png_rgb(o, img.width, img.height, img.rgb);
      }
      std::printf("carnot: %lld samples (%s, seed %llu, %s) written to %s\n", (long long)args.n,
                  source.description().c_str(), (unsigned long long)seed, how.c_str(), o.c_str());
    }
    const SampleQuality q = sample_quality(*data, all.data(), args.n, seed);
    const bool pass = args.quality_gate <= 0 || q.ratio() <= args.quality_gate;
    std::string verdict;
    if (args.quality_gate > 0)
      verdict = str_cat(pass ? " <= " : " > ", args.quality_gate, pass ? ": PASS" : ": FAIL");
    std::printf("quality: sliced W1 to fresh data %.5f; data vs data %.5f +- %.5f (%d pairs of "
                "%lld points); ratio %.3f%s\n",
                q.sw1, q.baseline_mean, q.baseline_stderr, q.pairs, (long long)args.n, q.ratio(),
                verdict.c_str());
    if (spec.data.kind == "gaussian" || spec.data.kind == "gaussian_mixture")
      print_moments(GaussianMixture::from_spec(spec.data), all, dim);
    std::fflush(stdout);
    if (!pass) code = 1;
  });
  comm.broadcast(&code, sizeof code, 0);
  return code;
}

}  // namespace carnot
