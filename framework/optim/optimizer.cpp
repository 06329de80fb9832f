#include "framework/optim/optimizer.h"

#include "framework/core/error.h"
#include "framework/optim/adamw.h"
#include "framework/optim/sgd.h"

namespace carnot {

void Optimizer::begin_step(const Tensor& params, const Tensor& grads) {
  CARNOT_CHECK(params.numel() == n_ && grads.numel() == n_, spec_.kind, " built for ", n_, " parameters got ",
               params.numel(), " parameters and ", grads.numel(), " gradients");
  ++step_;
}

void Optimizer::step_with_ema(const Tensor& params, const Tensor& grads, double grad_scale, const Tensor& ema,
                              float ema_decay, void* params_bf16) {
  if (grad_scale != 1.0) ops_.scale(DType::F32, grads.numel(), grad_scale, grads.raw());
  step(params, grads);
  ops_.ema_update(params.numel(), ema_decay, params.data<float>(), ema.data<float>());
  if (params_bf16) ops_.convert(params.numel(), DType::F32, params.raw(), DType::BF16, params_bf16, false);
}

std::unique_ptr<Optimizer> make_optimizer(Ops& ops, const OptimizerSpec& spec, std::int64_t n) {
  if (spec.kind == "adamw") return std::make_unique<AdamW>(ops, spec, n);
  if (spec.kind == "sgd") return std::make_unique<Sgd>(ops, spec, n);
  throw UsageError("optimizer.kind '" + spec.kind + "' is not one of adamw, sgd");
}

}  // namespace carnot
