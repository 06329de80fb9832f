// DiT's adaLN in one op: LayerNorm without affine, then the modulation, y = x̂ (1 + scale) + shift
// with x̂ = (x − μ) r. The mean and 1/std are saved; x̂ is not: backward recomputes it from x and
// them, so a block keeps one tensor (x, its input, which it keeps anyway) where LayerNorm and
// modulate kept two. Statistics in double, as layer_norm_forward's.
#include <cmath>

#include "kernels/cpu/kernels.h"
#include "kernels/cpu/row_moments.h"

namespace carnot::cpu {

template <class T>
void layer_norm_modulate_forward(std::int64_t batch, std::int64_t tokens, std::int64_t cols, double eps, const T* x,
                                 const T* shift, const T* scale, std::int64_t mod_stride, T* y, T* mean, T* rstd) {
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t n = 0; n < tokens; ++n) {
      const std::int64_t r = b * tokens + n;
      const T* xr = x + r * cols;
      const T* sh = shift + b * mod_stride;
      const T* sc = scale + b * mod_stride;
      double mu, inv;
      row_moments(xr, cols, eps, &mu, &inv);
      for (std::int64_t c = 0; c < cols; ++c)
        y[r * cols + c] = T((double(xr[c]) - mu) * inv * (1.0 + double(sc[c])) + double(sh[c]));
      mean[r] = T(mu);
      rstd[r] = T(inv);
    }
}

// dshift[b] = Σ_n dy, dscale[b] = Σ_n dy x̂ (written, summed over tokens in order); with
// g = dy (1 + scale), dx = r (g − mean(g) − x̂ mean(g x̂)), or dx += that (accumulate_dx).
template <class T>
void layer_norm_modulate_backward(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* x,
                                  const T* mean, const T* rstd, const T* scale, std::int64_t mod_stride, const T* dy,
                                  T* dx, T* dshift, T* dscale, bool accumulate_dx) {
  for (std::int64_t b = 0; b < batch; ++b) {
    const T* sc = scale + b * mod_stride;
    T* ds = dshift + b * mod_stride;
    T* dc = dscale + b * mod_stride;
    for (std::int64_t c = 0; c < cols; ++c) ds[c] = dc[c] = T(0);
    for (std::int64_t n = 0; n < tokens; ++n) {
      const std::int64_t r = b * tokens + n;
      const T* xr = x + r * cols;
      const T* gr = dy + r * cols;
      const double mu = double(mean[r]), inv = double(rstd[r]);
      double sg = 0, sgx = 0;
      for (std::int64_t c = 0; c < cols; ++c) {
        const double xh = (double(xr[c]) - mu) * inv, g = double(gr[c]) * (1.0 + double(sc[c]));
        ds[c] += gr[c];
        dc[c] += T(double(gr[c]) * xh);
        sg += g;
        sgx += g * xh;
      }
      sg /= double(cols);
      sgx /= double(cols);
      for (std::int64_t c = 0; c < cols; ++c) {
        const double xh = (double(xr[c]) - mu) * inv, g = double(gr[c]) * (1.0 + double(sc[c]));
        const double before = accumulate_dx ? double(dx[r * cols + c]) : 0.0;
        dx[r * cols + c] = T(before + inv * (g - sg - xh * sgx));
      }
    }
  }
}

#define CARNOT_ADALN(T)                                                                                           \
  template void layer_norm_modulate_forward<T>(std::int64_t, std::int64_t, std::int64_t, double, const T*,      \
                                               const T*, const T*, std::int64_t, T*, T*, T*);                   \
  template void layer_norm_modulate_backward<T>(std::int64_t, std::int64_t, std::int64_t, const T*, const T*,    \
                                                const T*, const T*, std::int64_t, const T*, T*, T*, T*, bool);
CARNOT_ADALN(float)
CARNOT_ADALN(double)
#undef CARNOT_ADALN

}  // namespace carnot::cpu
