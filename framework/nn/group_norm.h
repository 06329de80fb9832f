// GroupNorm layer with affine weight and bias (PyTorch's nn.GroupNorm names), on NCHW inputs; it
// keeps the per-(sample, group) statistics of its last forward for backward.
#pragma once
#include <string>

#include "framework/nn/parameters.h"
#include "kernels/ops.h"

namespace carnot {

class GroupNorm {
 public:
  GroupNorm(Ops& ops, ParameterStore& store, const std::string& name, std::int64_t channels, std::int64_t groups,
            double eps, std::int64_t max_batch);

  // y from x [n, C, H, W]; both may be any NCHW with C channels.
  void forward(const Tensor& x, const Tensor& y);
  // Accumulates the weight and bias gradients; writes dx (the x of the last forward).
  void backward(const Tensor& x, const Tensor& dy, const Tensor& dx);
  ParamHandle first_param() const { return weight_; }

 private:
  Ops& ops_;
  ParameterStore& store_;
  std::int64_t channels_, groups_;
  double eps_;
  ParamHandle weight_, bias_;
  Buffer mean_, rstd_;
};

}  // namespace carnot
