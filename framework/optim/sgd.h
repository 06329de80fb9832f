// SGD, with heavy-ball or Nesterov momentum and L2 weight decay, as torch.optim.SGD (dampening 0).
// The optimizer of the thermodynamic analysis (diagnostics): its temperature is η/B, or
// η/((1 − μ)B) with momentum μ.
#pragma once
#include "framework/optim/optimizer.h"

namespace carnot {

class Sgd final : public Optimizer {
 public:
  Sgd(Ops& ops, const OptimizerSpec& spec, std::int64_t n);
  void step(const Tensor& params, const Tensor& grads) override;
  // The momentum buffer, only with momentum (plain SGD keeps no state).
  std::vector<std::string> state_names() const override;
  Tensor state(std::size_t i) const override;
  std::optional<double> effective_lr() const override { return lr_ / (1.0 - spec_.momentum); }

 private:
  Buffer momentum_;
};

}  // namespace carnot
