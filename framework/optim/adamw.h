// AdamW over the flat fp32 parameter buffer (decoupled weight decay, Loshchilov & Hutter 2019),
// with PyTorch's update rule so results compare with torch.optim.AdamW.
#pragma once
#include <cstdint>

#include "framework/core/tensor.h"
#include "framework/io/job_spec.h"
#include "kernels/ops.h"

namespace carnot {

class AdamW {
 public:
  AdamW(Ops& ops, const OptimizerSpec& spec, std::int64_t n);
  // One step on params given grads (both flat, n elements); counts steps from 1.
  void step(const Tensor& params, const Tensor& grads);
  std::int64_t steps_taken() const { return step_; }
  // The moments, flat in the parameter layout, and the step count: a checkpoint saves and
  // restores exactly these.
  Tensor exp_avg() const { return m_.tensor(); }
  Tensor exp_avg_sq() const { return v_.tensor(); }
  void set_steps_taken(std::int64_t step) { step_ = step; }
  double lr() const { return spec_.lr; }

 private:
  Ops& ops_;
  OptimizerSpec spec_;
  Buffer m_, v_;
  std::int64_t step_ = 0;
};

}  // namespace carnot
