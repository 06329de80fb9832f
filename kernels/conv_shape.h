// The geometry of a 2-D convolution on NCHW images: square kernel k, stride, zero padding (pad on
// every side, plus pad_end_extra more after the last row and column: DDPM's down-sampling, as
// diffusers' Downsample2D with padding 0, pads (0, 1, 0, 1)).
#pragma once
#include <cstdint>

namespace carnot {

struct Conv2dShape {
  std::int64_t batch = 1, cin = 1, h = 1, w = 1, cout = 1, k = 1, stride = 1, pad = 0, pad_end_extra = 0;
  std::int64_t out_h() const { return (h + 2 * pad + pad_end_extra - k) / stride + 1; }
  std::int64_t out_w() const { return (w + 2 * pad + pad_end_extra - k) / stride + 1; }
  // A 1×1 convolution without stride or padding: a plain GEMM on the image itself, no im2col.
  bool pointwise() const { return k == 1 && stride == 1 && pad == 0 && pad_end_extra == 0; }
  // Stride 1 with "same" padding: the input gradient is itself a convolution of dy (with the
  // weights flipped and transposed), which the CPU kernel uses.
  bool same_stride1() const { return stride == 1 && pad_end_extra == 0 && k > 1 && 2 * pad == k - 1; }
  // The CPU kernels' scratch: im2col's buffer for one image (Cin·k·k rows of Hout·Wout), or for a
  // same_stride1() convolution the larger of that and dy's (Cout·k·k rows of H·W) plus the flipped
  // weights (Cin·Cout·k·k).
  std::int64_t workspace_elements() const {
    const std::int64_t forward = cin * k * k * out_h() * out_w();
    if (!same_stride1()) return forward;
    const std::int64_t transposed = cout * k * k * h * w;
    return (forward > transposed ? forward : transposed) + cin * cout * k * k;
  }
};

}  // namespace carnot
