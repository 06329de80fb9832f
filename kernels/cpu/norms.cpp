// Normalisations over rows (LayerNorm without affine, as DiT uses before adaLN) and over channel
// groups of NCHW images (GroupNorm, as the DDPM U-Net uses), with DiT's adaLN modulation and
// gated residual. Statistics accumulate in double; mean and 1/std are saved (in T) for backward.
#include <cmath>

#include "kernels/cpu/kernels.h"
#include "kernels/cpu/lane_sum.h"
#include "kernels/cpu/row_moments.h"

namespace carnot::cpu {

template <class T>
void layer_norm_forward(std::int64_t rows, std::int64_t cols, double eps, const T* x, T* y, T* mean,
                        T* rstd) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    double mu, inv;
    row_moments(xr, cols, eps, &mu, &inv);
    for (std::int64_t c = 0; c < cols; ++c) y[r * cols + c] = T((double(xr[c]) - mu) * inv);
    mean[r] = T(mu);
    rstd[r] = T(inv);
  }
}

// dx = r (dy − mean(dy) − x̂ mean(dy x̂)), x̂ = (x − μ) r.
template <class T>
void layer_norm_backward(std::int64_t rows, std::int64_t cols, const T* x, const T* mean, const T* rstd,
                         const T* dy, T* dx) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    const T* g = dy + r * cols;
    const double mu = mean[r], inv = rstd[r];
    double sg = 0, sgx = 0;
    for (std::int64_t c = 0; c < cols; ++c) {
      const double xh = (double(xr[c]) - mu) * inv;
      sg += double(g[c]);
      sgx += double(g[c]) * xh;
    }
    sg /= double(cols);
    sgx /= double(cols);
    for (std::int64_t c = 0; c < cols; ++c) {
      const double xh = (double(xr[c]) - mu) * inv;
      dx[r * cols + c] = T(inv * (double(g[c]) - sg - xh * sgx));
    }
  }
}

template <class T>
void modulate_forward(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* x, const T* shift,
                      const T* scale, std::int64_t mod_stride, T* y) {
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t n = 0; n < tokens; ++n) {
      const std::int64_t row = (b * tokens + n) * cols;
      for (std::int64_t c = 0; c < cols; ++c)
        y[row + c] = x[row + c] * (T(1) + scale[b * mod_stride + c]) + shift[b * mod_stride + c];
    }
}

template <class T>
void modulate_backward(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* x, const T* scale,
                       std::int64_t mod_stride, const T* dy, T* dx, T* dshift, T* dscale) {
  for (std::int64_t b = 0; b < batch; ++b) {
    T* ds = dshift + b * mod_stride;
    T* dc = dscale + b * mod_stride;
    for (std::int64_t c = 0; c < cols; ++c) ds[c] = dc[c] = T(0);
    for (std::int64_t n = 0; n < tokens; ++n) {
      const std::int64_t row = (b * tokens + n) * cols;
      for (std::int64_t c = 0; c < cols; ++c) {
        const T g = dy[row + c];
        ds[c] += g;
        dc[c] += g * x[row + c];
        dx[row + c] = g * (T(1) + scale[b * mod_stride + c]);
      }
    }
  }
}

template <class T>
void gated_residual_forward(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* x, const T* h,
                            const T* gate, std::int64_t mod_stride, T* y) {
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t n = 0; n < tokens; ++n) {
      const std::int64_t row = (b * tokens + n) * cols;
      for (std::int64_t c = 0; c < cols; ++c) y[row + c] = x[row + c] + gate[b * mod_stride + c] * h[row + c];
    }
}

template <class T>
void gated_residual_backward(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* h, const T* gate,
                             std::int64_t mod_stride, const T* dy, T* dh, T* dgate) {
  for (std::int64_t b = 0; b < batch; ++b) {
    T* dg = dgate + b * mod_stride;
    for (std::int64_t c = 0; c < cols; ++c) dg[c] = T(0);
    for (std::int64_t n = 0; n < tokens; ++n) {
      const std::int64_t row = (b * tokens + n) * cols;
      for (std::int64_t c = 0; c < cols; ++c) {
        dg[c] += dy[row + c] * h[row + c];
        dh[row + c] = dy[row + c] * gate[b * mod_stride + c];
      }
    }
  }
}

// Per channel within each group, so the inner loops run over contiguous H·W with a fixed γ and β
// (they vectorise); sums in float64.
template <class T>
void group_norm_forward(std::int64_t batch, std::int64_t channels, std::int64_t hw, std::int64_t groups, double eps,
                        const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd) {
  const std::int64_t cpg = channels / groups, per = cpg * hw;  // a group's channels are contiguous in NCHW
  for (std::int64_t bg = 0; bg < batch * groups; ++bg) {
    const T* xg = x + bg * per;
    const double mu = lane_sum(per, [&](std::int64_t i) { return double(xg[i]); }) / double(per);
    const double ss = lane_sum(per, [&](std::int64_t i) { return (double(xg[i]) - mu) * (double(xg[i]) - mu); });
    const double inv = 1.0 / std::sqrt(ss / double(per) + eps);
    mean[bg] = T(mu);
    rstd[bg] = T(inv);
    const std::int64_t c0 = (bg % groups) * cpg;
    for (std::int64_t k = 0; k < cpg; ++k) {
      const double a = gamma ? inv * double(gamma[c0 + k]) : inv, b = (gamma ? double(beta[c0 + k]) : 0.0) - mu * a;
      const T* xc = xg + k * hw;
      T* yc = y + bg * per + k * hw;
      const T at = T(a), bt = T(b);  // in T: float lanes are twice as many
      for (std::int64_t i = 0; i < hw; ++i) yc[i] = xc[i] * at + bt;
    }
  }
}

template <class T>
void group_norm_backward(std::int64_t batch, std::int64_t channels, std::int64_t hw, std::int64_t groups,
                         const T* x, const T* gamma, const T* mean, const T* rstd, const T* dy, T* dx,
                         T* dgamma, T* dbeta) {
  const std::int64_t cpg = channels / groups, per = cpg * hw;
  for (std::int64_t bg = 0; bg < batch * groups; ++bg) {
    const T* xg = x + bg * per;
    const T* g = dy + bg * per;
    const double mu = mean[bg], inv = rstd[bg];
    const std::int64_t c0 = (bg % groups) * cpg;
    double sg = 0, sgx = 0;  // over the group, of dx̂ = dy γ and of dx̂ x̂
    for (std::int64_t k = 0; k < cpg; ++k) {
      const T* xc = xg + k * hw;
      const T* gc = g + k * hw;
      // This channel's Σ dy and Σ dy x̂.
      const double sum_g = lane_sum(hw, [&](std::int64_t i) { return double(gc[i]); });
      const double sum_gx = lane_sum(hw, [&](std::int64_t i) { return double(gc[i]) * ((double(xc[i]) - mu) * inv); });
      const double gk = gamma ? double(gamma[c0 + k]) : 1.0;
      sg += gk * sum_g;
      sgx += gk * sum_gx;
      if (gamma) {
        dgamma[c0 + k] += T(sum_gx);
        dbeta[c0 + k] += T(sum_g);
      }
    }
    sg /= double(per);
    sgx /= double(per);
    for (std::int64_t k = 0; k < cpg; ++k) {
      const double gk = gamma ? double(gamma[c0 + k]) : 1.0;
      const T* xc = xg + k * hw;
      const T* gc = g + k * hw;
      T* dc = dx + bg * per + k * hw;
      // inv (dy γ − sg − x̂ sgx) as dy·a + x·b + c, in T.
      const T a = T(inv * gk), b = T(-inv * inv * sgx), c = T(inv * (mu * inv * sgx - sg));
      for (std::int64_t i = 0; i < hw; ++i) dc[i] = gc[i] * a + xc[i] * b + c;
    }
  }
}

#define CARNOT_NORMS(T)                                                                                        \
  template void layer_norm_forward<T>(std::int64_t, std::int64_t, double, const T*, T*, T*, T*);      \
  template void layer_norm_backward<T>(std::int64_t, std::int64_t, const T*, const T*, const T*,      \
                                       const T*, T*);                                                          \
  template void modulate_forward<T>(std::int64_t, std::int64_t, std::int64_t, const T*, const T*, const T*,   \
                                    std::int64_t, T*);                                                         \
  template void modulate_backward<T>(std::int64_t, std::int64_t, std::int64_t, const T*, const T*,            \
                                     std::int64_t, const T*, T*, T*, T*);                                      \
  template void gated_residual_forward<T>(std::int64_t, std::int64_t, std::int64_t, const T*, const T*,       \
                                          const T*, std::int64_t, T*);                                         \
  template void gated_residual_backward<T>(std::int64_t, std::int64_t, std::int64_t, const T*, const T*,      \
                                           std::int64_t, const T*, T*, T*);                                    \
  template void group_norm_forward<T>(std::int64_t, std::int64_t, std::int64_t, std::int64_t, double,         \
                                      const T*, const T*, const T*, T*, T*, T*);                       \
  template void group_norm_backward<T>(std::int64_t, std::int64_t, std::int64_t, std::int64_t, const T*,      \
                                       const T*, const T*, const T*, const T*, T*, T*, T*);
CARNOT_NORMS(float)
CARNOT_NORMS(double)

}  // namespace carnot::cpu
