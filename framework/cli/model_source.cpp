#include "framework/cli/model_source.h"

#include "framework/cli/commands.h"
#include "framework/core/error.h"
#include "framework/data/dataset.h"
#include "framework/diffusion/learned_betas.h"
#include "framework/diffusion/objective.h"
#include "framework/dist/agree.h"
#include "framework/train/model_weights.h"
#include "framework/train/trainer.h"

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
  edm_ = EdmConfig::from_spec(spec_.diffusion, data_std(spec_.data));
  max_rows_ = max_rows;
  if (spec_.model.kind == "exact") {
    if (spec_.diffusion.edm())
      exact_denoiser_ = std::make_unique<ExactDenoiser>(GaussianMixture::from_spec(spec_.data));
    else if (spec_.diffusion.flow())
      exact_velocity_ = std::make_unique<ExactVelocity>(GaussianMixture::from_spec(spec_.data));
    else
      exact_ = std::make_unique<ExactEps>(GaussianMixture::from_spec(spec_.data), schedule_);
    description_ = "the exact model of " + job;
    return;
  }
  const std::string weights = dir + (no_ema ? "/model" : "/ema") + ".safetensors";
  const MlpConfig config = mlp_config(spec_);
  variance_outputs_ = config.outputs() - config.data_dim;
  if (variance_outputs_ > 0) scratch_ = Buffer(DType::F32, Shape{max_rows, config.outputs()});
  network_ = std::make_unique<MlpScoreNet>(config, DType::F32, cpu_ops(), max_rows, spec_.seed);
  run_on_root_and_agree(comm, [&] { load_weights(weights, network_->params(), network_->params().values()); });
  const Tensor params = network_->params().values();
  comm.broadcast(params.raw(), std::int64_t(params.bytes()), 0);
  if (config.beta_logits > 0) schedule_ = learned_schedule(schedule_, network_->beta_logits().data<float>());
  description_ = std::string(no_ema ? "live" : "EMA") + " weights of " + dir;
}

EpsPredictor ModelSource::predictor() {
  if (exact_velocity_)
    return [this](const Tensor& z, const float* t, const Tensor& v) { (*exact_velocity_)(z, t, v); };
  CARNOT_CHECK(!spec_.diffusion.edm(), "an EDM model is a denoiser, not an ε-predictor");
  if (spec_.diffusion.flow())
    return [this](const Tensor& z, const float* t, const Tensor& v) { network_->forward(z, t, v); };
  if (exact_) return [this](const Tensor& x, const float* t, const Tensor& eps) { (*exact_)(x, t, eps); };
  if (variance_outputs_ > 0)
    return [this](const Tensor& x, const float* t, const Tensor& eps) { forward_split(x, t, eps, nullptr); };
  return as_eps_predictor(prediction_of(spec_.diffusion.objective), schedule_,
                          [this](const Tensor& x, const float* t, const Tensor& out) { network_->forward(x, t, out); });
}

Denoiser ModelSource::denoiser() {
  CARNOT_CHECK(spec_.diffusion.edm(), "a denoiser is asked of a model with schedule ", spec_.diffusion.schedule);
  if (exact_denoiser_) return [this](const Tensor& x, double sigma, const Tensor& d) { (*exact_denoiser_)(x, sigma, d); };
  return edm_denoiser(edm_, [this](const Tensor& x, const float* t, const Tensor& f) { network_->forward(x, t, f); },
                      max_rows_, spec_.data.dim());
}

ReverseModel ModelSource::reverse_model() {
  CARNOT_CHECK(!spec_.diffusion.continuous(), "a ", spec_.diffusion.schedule, " model has no reverse chain");
  const ReverseVariance v = reverse_variance_of(spec_.diffusion.variance);
  if (variance_outputs(v, 1) == 0) return ReverseModel(predictor(), v);
  return ReverseModel([this](const Tensor& x, const float* t, const Tensor& eps,
                             const Tensor& params) { forward_split(x, t, eps, &params); },
                      v);
}

// Runs a network whose rows are ε̂ then the variance parameters (objective eps) and splits them.
void ModelSource::forward_split(const Tensor& x, const float* t, const Tensor& eps, const Tensor* params) {
  const std::int64_t n = x.dim(0), dim = x.dim(1), P = variance_outputs_, width = dim + P;
  const Tensor out = scratch_.tensor().rows(0, n);
  network_->forward(x, t, out);
  const float* o = out.data<float>();
  for (std::int64_t j = 0; j < n; ++j) {
    std::copy(o + j * width, o + j * width + dim, eps.data<float>() + j * dim);
    if (params) std::copy(o + j * width + dim, o + (j + 1) * width, params->data<float>() + j * P);
  }
}

}  // namespace carnot
