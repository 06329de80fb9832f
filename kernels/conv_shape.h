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
  // im2col's buffer for one image: Cin·k·k rows of Hout·Wout.
  std::int64_t workspace_elements() const { return cin * k * k * out_h() * out_w(); }
};

}  // namespace carnot
