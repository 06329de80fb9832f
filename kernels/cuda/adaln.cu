// DiT's adaLN fused (LayerNorm without affine, then y = x̂ (1 + scale) + shift), the twin of
// kernels/cpu/adaln.cpp. Forward: one block a row, float64 statistics (block_moments, as
// LayerNorm's), x read once and y written once where LayerNorm and modulate moved x̂ twice more.
// Backward: one block a row for dx (x̂ recomputed from x and the saved statistics, float64 row
// sums in a fixed order) and one thread per (sample, column) summing dshift and dscale over the
// tokens in order — deterministic, as the CPU's. bf16 rows of a multiple of 8 up to 2048 values
// take one warp a row instead (bf16_rows.cu).
#include <cmath>
#include <type_traits>

#include "kernels/cuda/bf16_rows.cuh"
#include "kernels/cuda/element.cuh"
#include "kernels/cuda/kernels.cuh"
#include "kernels/cuda/launch.cuh"

namespace carnot::cuda_kernels {

namespace {

template <class T>
__global__ void adaln_fwd_k(std::int64_t tokens, std::int64_t cols, double eps, const T* x, const T* shift,
                            const T* scale, std::int64_t mod_stride, T* y, compute_t<T>* mean, compute_t<T>* rstd) {
  using C = compute_t<T>;
  const std::int64_t r = blockIdx.x, b = r / tokens;
  const T* xr = x + r * cols;
  const T* sh = shift + b * mod_stride;
  const T* sc = scale + b * mod_stride;
  double mu, inv;
  block_moments(xr, cols, eps, &mu, &inv);
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x)
    y[r * cols + c] = st<T>(C((double(ld(xr[c])) - mu) * inv * (1.0 + double(ld(sc[c]))) + double(ld(sh[c]))));
  if (threadIdx.x == 0) mean[r] = C(mu), rstd[r] = C(inv);
}

// dx = r (g − mean(g) − x̂ mean(g x̂)), g = dy (1 + scale).
template <class T>
__global__ void adaln_dx_k(std::int64_t tokens, std::int64_t cols, const T* x, const compute_t<T>* mean,
                           const compute_t<T>* rstd, const T* scale, std::int64_t mod_stride, const T* dy, T* dx,
                           bool accumulate_dx) {
  using C = compute_t<T>;
  const std::int64_t r = blockIdx.x, b = r / tokens;
  const T* xr = x + r * cols;
  const T* gr = dy + r * cols;
  const T* sc = scale + b * mod_stride;
  const double mu = double(mean[r]), inv = double(rstd[r]);
  double sg = 0, sgx = 0;
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const double xh = (double(ld(xr[c])) - mu) * inv, g = double(ld(gr[c])) * (1.0 + double(ld(sc[c])));
    sg += g;
    sgx += g * xh;
  }
  sg = block_sum(sg) / double(cols);
  sgx = block_sum(sgx) / double(cols);
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const double xh = (double(ld(xr[c])) - mu) * inv, g = double(ld(gr[c])) * (1.0 + double(ld(sc[c])));
    const double before = accumulate_dx ? double(ld(dx[r * cols + c])) : 0.0;
    dx[r * cols + c] = st<T>(C(before + inv * (g - sg - xh * sgx)));
  }
}

// dshift[b, c] = Σ_n dy, dscale[b, c] = Σ_n dy x̂, in the storage type's arithmetic as the CPU's.
template <class T>
__global__ void adaln_dparams_k(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* x,
                                const compute_t<T>* mean, const compute_t<T>* rstd, std::int64_t mod_stride,
                                const T* dy, T* dshift, T* dscale) {
  using C = compute_t<T>;
  CARNOT_GRID_STRIDE(i, batch * cols) {
    const std::int64_t b = i / cols, c = i % cols;
    C ds = 0, dc = 0;
    for (std::int64_t n = 0; n < tokens; ++n) {
      const std::int64_t r = b * tokens + n, at = r * cols + c;
      const double xh = (double(ld(x[at])) - double(mean[r])) * double(rstd[r]);
      ds += ld(dy[at]);
      dc += C(double(ld(dy[at])) * xh);
    }
    dshift[b * mod_stride + c] = st<T>(ds);
    dscale[b * mod_stride + c] = st<T>(dc);
  }
}

}  // namespace

template <class T>
void layer_norm_modulate_forward(std::int64_t batch, std::int64_t tokens, std::int64_t cols, double eps, const T* x,
                                 const T* shift, const T* scale, std::int64_t mod_stride, T* y, compute_t<T>* mean,
                                 compute_t<T>* rstd) {
  if (batch * tokens <= 0) return;
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    if (adaln_forward_bf16_rows(batch, tokens, cols, eps, x, shift, scale, mod_stride, y, mean, rstd)) return;
  adaln_fwd_k<T><<<unsigned(batch * tokens), kThreads>>>(tokens, cols, eps, x, shift, scale, mod_stride, y, mean, rstd);
  CARNOT_CUDA_CHECK(cudaGetLastError());
}

template <class T>
void layer_norm_modulate_backward(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* x,
                                  const compute_t<T>* mean, const compute_t<T>* rstd, const T* scale,
                                  std::int64_t mod_stride, const T* dy, T* dx, T* dshift, T* dscale,
                                  bool accumulate_dx) {
  if (batch * tokens <= 0) return;
  // The parameters' gradients first: dx may be dy.
  bool summed = false;
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    summed = adaln_dparams_bf16_rows(batch, tokens, cols, x, mean, rstd, mod_stride, dy, dshift, dscale);
  if (!summed)
    launch(batch * cols, adaln_dparams_k<T>, batch, tokens, cols, x, mean, rstd, mod_stride, dy, dshift, dscale);
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    if (adaln_dx_bf16_rows(batch, tokens, cols, x, mean, rstd, scale, mod_stride, dy, dx, accumulate_dx)) return;
  adaln_dx_k<T><<<unsigned(batch * tokens), kThreads>>>(tokens, cols, x, mean, rstd, scale, mod_stride, dy, dx,
                                                         accumulate_dx);
  CARNOT_CUDA_CHECK(cudaGetLastError());
}

#define CARNOT_ADALN(T)                                                                                           \
  template void layer_norm_modulate_forward<T>(std::int64_t, std::int64_t, std::int64_t, double, const T*,      \
                                               const T*, const T*, std::int64_t, T*, compute_t<T>*,             \
                                               compute_t<T>*);                                                  \
  template void layer_norm_modulate_backward<T>(std::int64_t, std::int64_t, std::int64_t, const T*,              \
                                                const compute_t<T>*, const compute_t<T>*, const T*,             \
                                                std::int64_t, const T*, T*, T*, T*, bool);
CARNOT_ADALN(float)
CARNOT_ADALN(double)
CARNOT_ADALN(__nv_bfloat16)
#undef CARNOT_ADALN

}  // namespace carnot::cuda_kernels
