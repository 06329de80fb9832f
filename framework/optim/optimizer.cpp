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

std::unique_ptr<Optimizer> make_optimizer(Ops& ops, const OptimizerSpec& spec, std::int64_t n) {
  if (spec.kind == "adamw") return std::make_unique<AdamW>(ops, spec, n);
  if (spec.kind == "sgd") return std::make_unique<Sgd>(ops, spec, n);
  throw UsageError("optimizer.kind '" + spec.kind + "' is not one of adamw, sgd");
}

}  // namespace carnot
