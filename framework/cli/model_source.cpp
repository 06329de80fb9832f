#include "framework/cli/model_source.h"

#include "framework/cli/commands.h"
#include "framework/core/error.h"
#include "framework/diffusion/objective.h"
#include "framework/dist/agree.h"
#include "framework/train/model_weights.h"

namespace carnot {

ModelSource::ModelSource(Comm& comm, const std::string& ckpt, const std::string& job,
                         const std::vector<std::string>& overrides, bool no_ema, std::int64_t max_rows) {
  std::string dir;
  if (!ckpt.empty()) {
    run_on_root_and_agree(comm, [&] { dir = resolve_checkpoint(ckpt); });
    dir = broadcast_string(comm, dir);
    spec_ = load_spec_on_all_ranks(comm, dir + "/job.yaml", {});
  } else {
    spec_ = load_spec_on_all_ranks(comm, job, overrides);
    if (spec_.model.kind != "exact")
      throw_on_all_ranks(UsageError("--job " + job + ": model.kind " + spec_.model.kind +
                                    " needs trained weights; use --ckpt RUN (only model.kind exact runs from a job)"));
  }
  schedule_ = make_schedule(spec_.diffusion);
  if (spec_.model.kind == "exact") {
    exact_ = std::make_unique<ExactEps>(GaussianMixture::from_spec(spec_.data), schedule_);
    description_ = "the exact model of " + job;
    return;
  }
  const std::string weights = dir + (no_ema ? "/model" : "/ema") + ".safetensors";
  const MlpConfig config{spec_.data.dim(), spec_.model.hidden, spec_.model.depth, spec_.model.time_embed};
  network_ = std::make_unique<MlpScoreNet>(config, DType::F32, cpu_ops(), max_rows, spec_.seed);
  run_on_root_and_agree(comm, [&] { load_weights(weights, network_->params(), network_->params().values()); });
  const Tensor params = network_->params().values();
  comm.broadcast(params.raw(), std::int64_t(params.bytes()), 0);
  description_ = std::string(no_ema ? "live" : "EMA") + " weights of " + dir;
}

EpsPredictor ModelSource::predictor() {
  if (exact_) return [this](const Tensor& x, const float* t, const Tensor& eps) { (*exact_)(x, t, eps); };
  return as_eps_predictor(prediction_of(spec_.diffusion.objective), schedule_,
                          [this](const Tensor& x, const float* t, const Tensor& out) { network_->forward(x, t, out); });
}

}  // namespace carnot
