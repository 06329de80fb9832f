#include "framework/optim/adamw.h"

#include "framework/core/error.h"

namespace carnot {

AdamW::AdamW(Ops& ops, const OptimizerSpec& spec, std::int64_t n)
    : Optimizer(ops, spec, n), m_(DType::F32, Shape{n}, device_of(ops)), v_(DType::F32, Shape{n}, device_of(ops)) {}

void AdamW::step(const Tensor& params, const Tensor& grads) {
  begin_step(params, grads);
  ops_.adamw_step(params.numel(), params.data<float>(), grads.data<float>(), m_.data<float>(),
                  v_.data<float>(), float(lr_), float(spec_.beta1), float(spec_.beta2),
                  float(spec_.eps), float(spec_.weight_decay), step_);
}

void AdamW::step_with_ema(const Tensor& params, const Tensor& grads, double grad_scale, const Tensor& ema,
                          float ema_decay, void* params_bf16) {
  begin_step(params, grads);
  CARNOT_CHECK(ema.numel() == params.numel(), "the EMA holds ", ema.numel(), " weights, the step ", params.numel());
  ops_.adamw_ema_step(params.numel(), params.data<float>(), grads.data<float>(), grad_scale, m_.data<float>(),
                      v_.data<float>(), float(lr_), float(spec_.beta1), float(spec_.beta2), float(spec_.eps),
                      float(spec_.weight_decay), step_, ema.data<float>(), ema_decay, params_bf16);
}

}  // namespace carnot
