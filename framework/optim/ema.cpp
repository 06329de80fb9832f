#include "framework/optim/ema.h"

#include <cstring>

namespace carnot {

Ema::Ema(Ops& ops, const Tensor& params, double decay)
    : ops_(ops), decay_(float(decay)), weights_(DType::F32, Shape{params.numel()}, device_of(ops)) {
  copy_bytes(weights_.tensor(), params);
}

void Ema::update(const Tensor& params) {
  ops_.ema_update(params.numel(), decay_, params.data<float>(), weights_.data<float>());
}

}  // namespace carnot
