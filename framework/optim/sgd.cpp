#include "framework/optim/sgd.h"

#include "framework/core/error.h"

namespace carnot {

Sgd::Sgd(Ops& ops, const OptimizerSpec& spec, std::int64_t n) : Optimizer(ops, spec, n) {
  if (spec.momentum > 0) momentum_ = Buffer(DType::F32, Shape{n}, device_of(ops));
}

std::vector<std::string> Sgd::state_names() const {
  if (spec_.momentum > 0) return {"momentum_buffer"};
  return {};
}

Tensor Sgd::state(std::size_t i) const {
  CARNOT_CHECK(i == 0 && spec_.momentum > 0, "SGD has ", spec_.momentum > 0 ? 1 : 0, " state tensors, asked for #", i);
  return momentum_.tensor();
}

void Sgd::step(const Tensor& params, const Tensor& grads) {
  begin_step(params, grads);
  ops_.sgd_step(n_, params.data<float>(), grads.data<float>(), spec_.momentum > 0 ? momentum_.data<float>() : nullptr,
                float(lr_), float(spec_.momentum), float(spec_.weight_decay), spec_.nesterov);
}

}  // namespace carnot
