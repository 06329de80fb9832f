// AdamW over the flat fp32 parameter buffer (decoupled weight decay, Loshchilov & Hutter 2019),
// with PyTorch's update rule so results compare with torch.optim.AdamW.
#pragma once
#include "framework/optim/optimizer.h"

namespace carnot {

class AdamW final : public Optimizer {
 public:
  AdamW(Ops& ops, const OptimizerSpec& spec, std::int64_t n);
  void step(const Tensor& params, const Tensor& grads) override;
  void step_with_ema(const Tensor& params, const Tensor& grads, double grad_scale, const Tensor& ema,
                     float ema_decay, void* params_bf16) override;
  std::vector<std::string> state_names() const override { return {"exp_avg", "exp_avg_sq"}; }
  Tensor state(std::size_t i) const override { return (i == 0 ? m_ : v_).tensor(); }

 private:
  Buffer m_, v_;
};

}  // namespace carnot
