// Conv2d layer: weight [Cout, Cin, k, k] and bias [Cout] as PyTorch's nn.Conv2d names them, on
// NCHW inputs of any side; the im2col workspace is the caller's (one per network, reused).
#pragma once
#include <string>

#include "framework/nn/parameters.h"
#include "kernels/ops.h"

namespace carnot {

class Conv2d {
 public:
  // pad_end_extra: zero rows and columns added after the image (DDPM's down-sampling pads (0, 1)).
  Conv2d(Ops& ops, ParameterStore& store, const std::string& name, std::int64_t cin, std::int64_t cout,
         std::int64_t k, std::int64_t stride, std::int64_t pad, ParamInit weight, ParamInit bias,
         std::int64_t pad_end_extra = 0);

  // The geometry for a batch of side×side inputs.
  Conv2dShape shape(std::int64_t batch, std::int64_t side) const {
    return Conv2dShape{batch, cin_, side, side, cout_, k_, stride_, pad_, pad_end_extra_};
  }
  std::int64_t out_side(std::int64_t side) const { return shape(1, side).out_h(); }
  std::int64_t cin() const { return cin_; }
  std::int64_t cout() const { return cout_; }
  ParamHandle first_param() const { return weight_; }  // registered first: the layer's flat end

  // y[n, Cout, Ho, Wo] from x[n, Cin, H, W] (square).
  void forward(const Tensor& x, const Tensor& y, void* workspace) const;
  // Accumulates the weight and bias gradients; writes dx unless it is empty.
  void backward(const Tensor& x, const Tensor& dy, const Tensor& dx, void* workspace) const;

 private:
  Ops& ops_;
  ParameterStore& store_;
  std::int64_t cin_, cout_, k_, stride_, pad_, pad_end_extra_;
  ParamHandle weight_, bias_;
};

}  // namespace carnot
