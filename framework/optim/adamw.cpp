#include "framework/optim/adamw.h"

namespace carnot {

AdamW::AdamW(Ops& ops, const OptimizerSpec& spec, std::int64_t n)
    : Optimizer(ops, spec, n), m_(DType::F32, Shape{n}, device_of(ops)), v_(DType::F32, Shape{n}, device_of(ops)) {}

void AdamW::step(const Tensor& params, const Tensor& grads) {
  begin_step(params, grads);
  ops_.adamw_step(params.numel(), params.data<float>(), grads.data<float>(), m_.data<float>(),
                  v_.data<float>(), float(lr_), float(spec_.beta1), float(spec_.beta2),
                  float(spec_.eps), float(spec_.weight_decay), step_);
}

}  // namespace carnot
