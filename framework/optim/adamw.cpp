#include "framework/optim/adamw.h"

namespace carnot {

AdamW::AdamW(Ops& ops, const OptimizerSpec& spec, std::int64_t n)
    : ops_(ops), spec_(spec), m_(DType::F32, Shape{n}), v_(DType::F32, Shape{n}) {}

void AdamW::step(const Tensor& params, const Tensor& grads) {
  CARNOT_CHECK(params.numel() == m_.numel() && grads.numel() == m_.numel(),
               "AdamW built for ", m_.numel(), " parameters got ", params.numel());
  ++step_;
  ops_.adamw_step(params.numel(), params.data<float>(), grads.data<float>(), m_.data<float>(),
                  v_.data<float>(), float(spec_.lr), float(spec_.beta1), float(spec_.beta2),
                  float(spec_.eps), float(spec_.weight_decay), step_);
}

}  // namespace carnot
