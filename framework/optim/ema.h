// Exponential moving average of the weights, a copy of the flat parameter buffer.
#pragma once
#include "framework/core/tensor.h"
#include "kernels/ops.h"

namespace carnot {

class Ema {
 public:
  Ema(Ops& ops, const Tensor& params, double decay);  // starts equal to params
  void update(const Tensor& params);
  Tensor weights() const { return weights_.tensor(); }
  float decay() const { return decay_; }

 private:
  Ops& ops_;
  float decay_;
  Buffer weights_;
};

}  // namespace carnot
