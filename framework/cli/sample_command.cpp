// carnot sample --ckpt RUN_DIR -n N --out FILE.npy [--seed S] [--no-ema] [--quality-gate R]
#include <cstdio>
#include <filesystem>
#include <vector>

#include "framework/cli/commands.h"
#include "framework/core/error.h"
#include "framework/data/dataset.h"
#include "framework/diffusion/ddpm_sampler.h"
#include "framework/dist/agree.h"
#include "framework/eval/sample_quality.h"
#include "framework/io/file_util.h"
#include "framework/io/job_spec.h"
#include "framework/eval/scatter_plot.h"
#include "framework/io/npy.h"
#include "framework/io/png.h"
#include "framework/nn/mlp_score_net.h"
#include "framework/train/checkpoint.h"
#include "framework/train/model_weights.h"
#include "framework/train/trainer.h"

namespace carnot {

std::string resolve_checkpoint(const std::string& ckpt) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(ckpt))
    throw UsageError("--ckpt '" + ckpt + "' is not a run folder or checkpoint folder");
  std::string dir = ckpt;
  if (!fs::exists(ckpt + "/state.json")) {
    std::vector<std::string> skipped;
    const auto good = newest_good_checkpoint(ckpt, &skipped);
    for (const std::string& s : skipped) std::fprintf(stderr, "carnot: skipping checkpoint %s\n", s.c_str());
    if (!good)
      throw UsageError("--ckpt '" + ckpt + "' holds no checkpoint that verifies (did training run?)");
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
      UsageError e("--out '" + o + "': the file name must end in .npy or .png");
      e.mark_on_all_ranks();
      throw e;
    }
  }
  std::string dir;
  run_on_root_and_agree(comm, [&] { dir = resolve_checkpoint(args.ckpt); });
  dir = broadcast_string(comm, dir);
  const std::string weights = dir + (args.no_ema ? "/model" : "/ema") + ".safetensors";
  const JobSpec spec = load_spec_on_all_ranks(comm, dir + "/job.yaml", {});
  const std::uint64_t seed = args.seed_given ? args.seed : spec.seed;
  const auto data = make_dataset(spec.data);
  const std::int64_t dim = data->dim();

  const Slice slice = batch_slice(args.n, comm.rank(), comm.size());
  const std::int64_t chunk = std::max<std::int64_t>(1, std::min<std::int64_t>(slice.count, 2048));
  const MlpConfig config{dim, spec.model.hidden, spec.model.depth, spec.model.time_embed};
  MlpScoreNet model(config, DType::F32, cpu_ops(), chunk, spec.seed);
  // Rank 0 reads the weights; every rank receives them.
  run_on_root_and_agree(comm, [&] { load_weights(weights, model.params(), model.params().values()); });
  const Tensor params = model.params().values();
  comm.broadcast(params.raw(), std::int64_t(params.bytes()), 0);

  const NoiseSchedule schedule = make_schedule(spec.diffusion);
  std::vector<float> local(std::size_t(std::max<std::int64_t>(1, slice.count * dim)));
  ddpm_sample([&](const Tensor& x, const float* t, const Tensor& eps) { model.forward(x, t, eps); },
              schedule, seed, std::uint32_t(slice.begin), slice.count, dim, chunk, local.data());

  std::vector<std::int64_t> counts;
  for (int r = 0; r < comm.size(); ++r) counts.push_back(batch_slice(args.n, r, comm.size()).count * dim);
  std::vector<float> all(comm.rank() == 0 ? std::size_t(args.n * dim) : 0);
  comm.gather(local.data(), slice.count * dim, counts, all.data());

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
      std::printf("carnot: %lld samples (%s weights of %s, seed %llu, %d DDPM steps) written to %s\n",
                  (long long)args.n, args.no_ema ? "live" : "EMA", dir.c_str(),
                  (unsigned long long)seed, schedule.steps(), o.c_str());
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
    std::fflush(stdout);
    if (!pass) code = 1;
  });
  comm.broadcast(&code, sizeof code, 0);
  return code;
}

}  // namespace carnot
