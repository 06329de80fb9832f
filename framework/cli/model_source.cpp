#include "framework/cli/model_source.h"

#include "framework/cli/commands.h"
#include "framework/core/error.h"
#include "framework/data/dataset.h"
#include "framework/diffusion/learned_betas.h"
#include "framework/diffusion/objective.h"
#include "framework/dist/agree.h"
#include "framework/train/model_weights.h"
#include "framework/train/trainer.h"

#include "framework/nn/dit.h"
#include "framework/nn/unet.h"
#include "framework/train/networks.h"

#if CARNOT_WITH_CUDA
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/cuda_runtime.h"
#endif

#include <algorithm>
#include <limits>

namespace carnot {

std::int64_t rows_that_fit(const JobSpec& spec, const DeviceChoice& device) {
  double per_row = 0;
  if (spec.model.kind == "dit") per_row = double(dit_activation_elements(dit_config(spec)));
  if (spec.model.kind == "unet") per_row = double(unet_activation_elements(unet_config(spec)));
  if (per_row <= 0) return std::numeric_limits<std::int64_t>::max();
  double budget = 4.0 * double(std::int64_t(1) << 30);
#if CARNOT_WITH_CUDA
  if (device.gpu) budget = 0.5 * double(cuda::free_bytes());
#else
  (void)device;
#endif
  return std::max<std::int64_t>(1, std::int64_t(budget / (4.0 * per_row)));
}

ModelSource::ModelSource(Comm& comm, const DeviceChoice& device, const std::string& ckpt, const std::string& job,
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
  max_rows_ = std::min(max_rows, rows_that_fit(spec_, device));
  max_rows = max_rows_;
  ops_ = &cpu_ops();
#if CARNOT_WITH_CUDA
  if (device.gpu) ops_ = &cuda_ops();
#endif
  if (device.guarded) {
    guarded_ = std::make_unique<GuardedDevice>();
    ops_ = &guarded_->ops();
  }
  const Device where = device_of(*ops_);
  network_ = make_score_network(spec_, *ops_, max_rows, spec_.seed);
  const std::int64_t outputs = network_->outputs();
  variance_outputs_ = outputs - spec_.data.dim();
  if (variance_outputs_ > 0) scratch_ = Buffer(DType::F32, Shape{max_rows, outputs});
  labels_.assign(std::size_t(max_rows), 0);
  // The weights arrive on the host (rank 0 reads, the host communicator broadcasts), then go over.
  const Tensor params = network_->params().values();
  Buffer host_params(DType::F32, params.shape());
  run_on_root_and_agree(comm, [&] { load_weights(weights, network_->params(), host_params.tensor()); });
  comm.broadcast(host_params.tensor().raw(), std::int64_t(params.bytes()), 0);
  copy_bytes(params, host_params.tensor());
  if (network_->beta_logits().raw()) {
    const Tensor logits = network_->beta_logits();
    std::vector<float> host(std::size_t(logits.numel()));
    copy_bytes(host.data(), Device::kCpu, logits.raw(), where, logits.bytes());
    schedule_ = learned_schedule(schedule_, host.data());
  }
  if (where != Device::kCpu) {
    x_dev_ = Buffer(DType::F32, Shape{max_rows, spec_.data.dim()}, where);
    t_dev_ = Buffer(DType::F32, Shape{max_rows}, where);
    out_dev_ = Buffer(DType::F32, Shape{max_rows, outputs}, where);
    if (num_classes() > 0) labels_dev_ = Buffer(DType::F64, Shape{max_rows}, where);  // int64 labels' bytes
  }
  // Until set_class: the null class (sample and eval call set_class, which checks it exists).
  label_ = num_classes();
  std::fill(labels_.begin(), labels_.end(), label_);
  description_ = std::string(no_ema ? "live" : "EMA") + " weights of " + dir;
}

void ModelSource::set_class(std::int64_t label, double cfg_scale) {
  const std::int64_t classes = num_classes();
  const bool has_null = spec_.model.class_dropout > 0;
  if (classes == 0 && (label >= 0 || cfg_scale != 1))
    throw UsageError("--class and --cfg-scale need a class-conditional model (this one is unconditional)");
  if (label >= classes) throw UsageError(str_cat("--class ", label, ": the model has classes 0 to ", classes - 1));
  if ((label < 0 || cfg_scale != 1) && !has_null)
    throw UsageError("this model was trained without label dropout (model.class_dropout 0): it has no null class, so "
                     "it needs --class K and no --cfg-scale");
  if (label < 0 && cfg_scale != 1) throw UsageError("--cfg-scale needs --class K (guidance towards a class)");
  label_ = label < 0 ? classes : label;  // the null class is index `classes`
  cfg_scale_ = cfg_scale;
  std::fill(labels_.begin(), labels_.end(), label_);
  if (cfg_scale != 1 && guided_.tensor().raw() == nullptr) {
    guided_ = Buffer(DType::F32, Shape{max_rows_, network_->outputs()});
    null_labels_.assign(std::size_t(max_rows_), classes);
  }
}

void ModelSource::forward_network(const Tensor& x, const float* t, const std::int64_t* labels, const Tensor& out) {
  if (x_dev_.tensor().raw() == nullptr) return network_->forward(x, t, labels, out);
  const std::int64_t n = x.dim(0);
  const Device where = x_dev_.tensor().device();
  const Tensor xd = x_dev_.tensor().rows(0, n), od = out_dev_.tensor().rows(0, n);
  copy_bytes(xd, x);
  copy_bytes(t_dev_.tensor().raw(), where, t, Device::kCpu, std::size_t(n) * sizeof(float));
  const std::int64_t* labels_d = nullptr;
  if (labels) {
    copy_bytes(labels_dev_.tensor().raw(), where, labels, Device::kCpu, std::size_t(n) * sizeof(std::int64_t));
    labels_d = static_cast<const std::int64_t*>(labels_dev_.tensor().raw());
  }
  network_->forward(xd, t_dev_.data<float>(), labels_d, od);
  copy_bytes(out, od);
}

void ModelSource::run(const Tensor& x, const float* t, const Tensor& out) {
  const bool conditional = num_classes() > 0;
  forward_network(x, t, conditional ? labels_.data() : nullptr, out);
  if (!conditional || cfg_scale_ == 1) return;
  const std::int64_t n = x.dim(0), dim = x.dim(1), width = out.dim(1);
  const Tensor u = guided_.tensor().rows(0, n);
  forward_network(x, t, null_labels_.data(), u);
  float* o = out.data<float>();
  const float* uo = u.data<float>();
  const float s = float(cfg_scale_);
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t i = 0; i < dim; ++i) {
      const std::int64_t k = j * width + i;
      o[k] = uo[k] + s * (o[k] - uo[k]);
    }
}

EpsPredictor ModelSource::predictor() {
  if (exact_velocity_)
    return [this](const Tensor& z, const float* t, const Tensor& v) { (*exact_velocity_)(z, t, v); };
  CARNOT_CHECK(!spec_.diffusion.edm(), "an EDM model is a denoiser, not an ε-predictor");
  if (spec_.diffusion.flow())
    return [this](const Tensor& z, const float* t, const Tensor& v) { run(z, t, v); };
  if (exact_) return [this](const Tensor& x, const float* t, const Tensor& eps) { (*exact_)(x, t, eps); };
  if (variance_outputs_ > 0)
    return [this](const Tensor& x, const float* t, const Tensor& eps) { forward_split(x, t, eps, nullptr); };
  return as_eps_predictor(prediction_of(spec_.diffusion.objective), schedule_,
                          [this](const Tensor& x, const float* t, const Tensor& out) { run(x, t, out); });
}

Denoiser ModelSource::denoiser() {
  CARNOT_CHECK(spec_.diffusion.edm(), "a denoiser is asked of a model with schedule ", spec_.diffusion.schedule);
  if (exact_denoiser_) return [this](const Tensor& x, double sigma, const Tensor& d) { (*exact_denoiser_)(x, sigma, d); };
  return edm_denoiser(edm_, [this](const Tensor& x, const float* t, const Tensor& f) { run(x, t, f); },
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
  run(x, t, out);
  const float* o = out.data<float>();
  for (std::int64_t j = 0; j < n; ++j) {
    std::copy(o + j * width, o + j * width + dim, eps.data<float>() + j * dim);
    if (params) std::copy(o + j * width + dim, o + (j + 1) * width, params->data<float>() + j * P);
  }
}

}  // namespace carnot
