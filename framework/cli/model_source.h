// The ε-predictor that `sample` and `eval` run: a checkpoint's network (EMA weights unless
// no_ema), or the exact ε of a job whose model.kind is exact. Rank 0 reads files; every rank
// receives the same model. The network runs on `device` (float32): the samplers' rows stay on the
// host and go over for each evaluation, the output comes back.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "framework/core/device.h"
#include "framework/debug/guarded_device.h"
#include "framework/diffusion/reverse_model.h"
#include "framework/diffusion/exact_eps.h"
#include "framework/diffusion/edm.h"
#include "framework/diffusion/flow_matching.h"
#include "framework/dist/comm.h"
#include "framework/io/job_spec.h"
#include "framework/nn/score_network.h"

namespace carnot {

// Rows of one network evaluation whose float32 activations (the plan `carnot validate` counts) fit
// 4 GiB on the CPU or half the free memory on a GPU; the MLP's are small (no bound).
std::int64_t rows_that_fit(const JobSpec& spec, const DeviceChoice& device);

class ModelSource {
 public:
  // Exactly one of ckpt (a run or checkpoint folder) and job is non-empty. max_rows bounds the rows
  // of one network evaluation; the source may take fewer (max_rows()) so that the network's
  // activations fit: 4 GiB on the CPU, half the free memory on a GPU.
  ModelSource(Comm& comm, const DeviceChoice& device, const std::string& ckpt, const std::string& job,
              const std::vector<std::string>& overrides, bool no_ema, std::int64_t max_rows);

  const JobSpec& spec() const { return spec_; }
  std::int64_t max_rows() const { return max_rows_; }
  const NoiseSchedule& schedule() const { return schedule_; }
  const std::string& description() const { return description_; }  // "EMA weights of …"
  // ε̂ alone (DDIM and the ODE samplers), and ε̂ with the job's reverse variance (DDPM, the bound).
  // For diffusion.schedule flow, predictor() gives the velocity v̂ (flow_matching.h) instead.
  EpsPredictor predictor();
  // For diffusion.schedule edm: the denoiser D(x; σ) (edm.h) and its configuration.
  Denoiser denoiser();
  const EdmConfig& edm() const { return edm_; }
  ReverseModel reverse_model();
  // Class-conditional networks: the class every row is drawn from (-1: the null class, i.e.
  // unconditional), and classifier-free guidance's scale s on ε̂: ε̂_null + s (ε̂_class − ε̂_null)
  // (1: none; the variance outputs stay the class's, as DiT's sampler keeps them).
  std::int64_t num_classes() const {
    return spec_.model.kind == "dit" || spec_.model.kind == "unet" ? spec_.data.num_classes : 0;
  }
  void set_class(std::int64_t label, double cfg_scale);

 private:
  void forward_split(const Tensor& x, const float* t, const Tensor& eps, const Tensor* params);
  // The network's whole output for x (with the class and guidance set).
  void run(const Tensor& x, const float* t, const Tensor& out);
  // One forward of the network on host rows, through the device's staging buffers when it has one.
  void forward_network(const Tensor& x, const float* t, const std::int64_t* labels, const Tensor& out);

  JobSpec spec_;
  NoiseSchedule schedule_;
  std::string description_;
  std::unique_ptr<GuardedDevice> guarded_;  // declared before the network, which it outlives
  Ops* ops_ = nullptr;
  std::unique_ptr<ScoreNetwork> network_;
  Buffer x_dev_, t_dev_, labels_dev_, out_dev_;  // staging on the device (empty on the CPU)
  std::vector<std::int64_t> labels_;  // one per row: the class, or the null class
  std::int64_t label_ = -1;
  double cfg_scale_ = 1;
  Buffer guided_;                          // the null class's output under guidance
  std::vector<std::int64_t> null_labels_;  // its labels
  std::unique_ptr<ExactEps> exact_;
  std::unique_ptr<ExactVelocity> exact_velocity_;
  std::unique_ptr<ExactDenoiser> exact_denoiser_;
  EdmConfig edm_;
  std::int64_t max_rows_ = 0;
  std::int64_t variance_outputs_ = 0;  // the network's learned-variance outputs per row
  Buffer scratch_;                     // its whole [rows, dim + variance_outputs_] output then
};

}  // namespace carnot
