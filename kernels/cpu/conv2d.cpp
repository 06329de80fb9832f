// 2-D convolution on NCHW images, square kernel k, stride s, zero padding p (and any extra at the
// end, which only lengthens the output: reads past the image are zeros anyway), as im2col + GEMM:
// per image, cols[Cin·k·k, Hout·Wout] gathers the receptive fields and y = W[Cout, Cin·k·k] cols.
// One routine serves the U-Net's 3×3 convolutions, its strided down-sampling and DiT's patch
// embedding (k = s = patch). Backward: dW += dy colsᵀ, dcols = Wᵀ dy scattered back (col2im).
#include <algorithm>

#include "kernels/cpu/kernels.h"
#include "kernels/cpu/lane_sum.h"

namespace carnot::cpu {

namespace {

// The output columns [lo, hi) whose input column j = o·s − p + kj lies inside [0, w): the rest
// read padding. Rows are then copied (or added) as one segment, which vectorises.
struct ValidRange {
  std::int64_t lo, hi;
};
ValidRange valid_columns(std::int64_t w, std::int64_t wo, std::int64_t s, std::int64_t p, std::int64_t kj) {
  std::int64_t lo = 0;
  while (lo < wo && lo * s - p + kj < 0) ++lo;
  std::int64_t hi = wo;
  while (hi > lo && (hi - 1) * s - p + kj >= w) --hi;
  return {lo, hi};
}

template <class T>
void im2col(const T* x, const Conv2dShape& g, T* cols) {
  const std::int64_t cin = g.cin, h = g.h, w = g.w, k = g.k, s = g.stride, p = g.pad;
  const std::int64_t ho = g.out_h(), wo = g.out_w();
  for (std::int64_t c = 0; c < cin; ++c)
    for (std::int64_t ki = 0; ki < k; ++ki)
      for (std::int64_t kj = 0; kj < k; ++kj) {
        T* row = cols + ((c * k + ki) * k + kj) * ho * wo;
        const ValidRange r = valid_columns(w, wo, s, p, kj);
        for (std::int64_t oi = 0; oi < ho; ++oi) {
          T* out = row + oi * wo;
          const std::int64_t i = oi * s - p + ki;
          if (i < 0 || i >= h) {
            std::fill(out, out + wo, T(0));
            continue;
          }
          const T* in = x + (c * h + i) * w - p + kj;  // in[o·s] is column o's input
          std::fill(out, out + r.lo, T(0));
          if (s == 1)
            std::copy(in + r.lo, in + r.hi, out + r.lo);
          else
            for (std::int64_t oj = r.lo; oj < r.hi; ++oj) out[oj] = in[oj * s];
          std::fill(out + r.hi, out + wo, T(0));
        }
      }
}

template <class T>
void col2im_add(const T* cols, const Conv2dShape& g, T* dx) {
  const std::int64_t cin = g.cin, h = g.h, w = g.w, k = g.k, s = g.stride, p = g.pad;
  const std::int64_t ho = g.out_h(), wo = g.out_w();
  for (std::int64_t c = 0; c < cin; ++c)
    for (std::int64_t ki = 0; ki < k; ++ki)
      for (std::int64_t kj = 0; kj < k; ++kj) {
        const T* row = cols + ((c * k + ki) * k + kj) * ho * wo;
        const ValidRange r = valid_columns(w, wo, s, p, kj);
        for (std::int64_t oi = 0; oi < ho; ++oi) {
          const std::int64_t i = oi * s - p + ki;
          if (i < 0 || i >= h) continue;
          const T* in = row + oi * wo;
          T* out = dx + (c * h + i) * w - p + kj;
          if (s == 1)
            for (std::int64_t oj = r.lo; oj < r.hi; ++oj) out[oj] += in[oj];
          else
            for (std::int64_t oj = r.lo; oj < r.hi; ++oj) out[oj * s] += in[oj];
        }
      }
}

}  // namespace

// Stride 1 with "same" padding (Conv2dShape::same_stride1): dx is itself a convolution of dy (Cout
// channels) with the weights flipped and transposed, W'[ci, co, a, b] = W[co, ci, k−1−a, k−1−b],
// padding k−1−p. As im2col of dy and one GEMM with inner dimension Cout·k·k, it beats Wᵀ·dy (inner
// dimension Cout) plus col2im.

template <class T>
void conv2d_forward(const Conv2dShape& g, const T* x, const T* weight, const T* bias, T* workspace, T* y) {
  const std::int64_t ho = g.out_h(), wo = g.out_w();
  const std::int64_t kk = g.cin * g.k * g.k;
  for (std::int64_t b = 0; b < g.batch; ++b) {
    const T* xb = x + b * g.cin * g.h * g.w;
    const T* cols = xb;
    if (!g.pointwise()) {
      im2col(xb, g, workspace);
      cols = workspace;
    }
    T* yb = y + b * g.cout * ho * wo;
    gemm<T>(false, false, g.cout, ho * wo, kk, T(1), weight, kk, cols, ho * wo, T(0), yb, ho * wo);
    if (bias)
      for (std::int64_t c = 0; c < g.cout; ++c)
        for (std::int64_t i = 0; i < ho * wo; ++i) yb[c * ho * wo + i] += bias[c];
  }
}

template <class T>
void conv2d_backward(const Conv2dShape& g, const T* x, const T* weight, const T* dy, T* workspace, T* dx, T* dweight,
                     T* dbias) {
  const std::int64_t ho = g.out_h(), wo = g.out_w(), hw = g.h * g.w;
  const std::int64_t kk = g.cin * g.k * g.k, tk = g.cout * g.k * g.k;
  const bool flip = dx && g.same_stride1();
  // The transposed path's geometry (dy as the input, Cin outputs) and its flipped weights, kept
  // after the im2col buffer it also needs.
  const Conv2dShape gt{1, g.cout, g.h, g.w, g.cin, g.k, 1, g.k - 1 - g.pad, 0};
  T* flipped = workspace + std::max(kk * ho * wo, tk * hw);
  if (flip)
    for (std::int64_t co = 0; co < g.cout; ++co)
      for (std::int64_t ci = 0; ci < g.cin; ++ci)
        for (std::int64_t a = 0; a < g.k * g.k; ++a)
          flipped[(ci * g.cout + co) * g.k * g.k + a] = weight[(co * g.cin + ci) * g.k * g.k + (g.k * g.k - 1 - a)];
  for (std::int64_t b = 0; b < g.batch; ++b) {
    const T* dyb = dy + b * g.cout * ho * wo;
    const T* xb = x + b * g.cin * hw;
    const T* cols = xb;
    if (!g.pointwise()) {
      im2col(xb, g, workspace);
      cols = workspace;
    }
    gemm<T>(false, true, g.cout, kk, ho * wo, T(1), dyb, ho * wo, cols, ho * wo, T(1), dweight, kk);
    if (dbias)
      for (std::int64_t c = 0; c < g.cout; ++c)
        dbias[c] += T(lane_sum(ho * wo, [&](std::int64_t i) { return double(dyb[c * ho * wo + i]); }));
    if (!dx) continue;
    T* dxb = dx + b * g.cin * hw;
    if (g.pointwise()) {
      gemm<T>(true, false, g.cin, hw, g.cout, T(1), weight, g.cin, dyb, hw, T(0), dxb, hw);
    } else if (flip) {
      im2col(dyb, gt, workspace);
      gemm<T>(false, false, g.cin, hw, tk, T(1), flipped, tk, workspace, hw, T(0), dxb, hw);
    } else {
      gemm<T>(true, false, kk, ho * wo, g.cout, T(1), weight, kk, dyb, ho * wo, T(0), workspace, ho * wo);
      std::fill(dxb, dxb + g.cin * hw, T(0));
      col2im_add(workspace, g, dxb);
    }
  }
}

template void conv2d_forward<float>(const Conv2dShape&, const float*, const float*, const float*, float*, float*);
template void conv2d_forward<double>(const Conv2dShape&, const double*, const double*, const double*, double*,
                                     double*);
template void conv2d_backward<float>(const Conv2dShape&, const float*, const float*, const float*, float*, float*,
                                     float*, float*);
template void conv2d_backward<double>(const Conv2dShape&, const double*, const double*, const double*, double*,
                                      double*, double*, double*);

}  // namespace carnot::cpu
