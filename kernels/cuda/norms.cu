// LayerNorm without affine (one block per row; float64 statistics in a fixed tree order, as the
// CPU twin's two passes), DiT's adaLN modulation and gated residual. The per-(sample, column)
// gradients of shift, scale and gate are summed over tokens in order by one thread each.
#include <cmath>

#include "kernels/cuda/kernels.cuh"
#include "kernels/cuda/launch.cuh"

namespace carnot::cuda_kernels {

namespace {

template <class T>
__global__ void layer_norm_fwd_k(std::int64_t cols, double eps, const T* x, T* y, T* mean, T* rstd) {
  const std::int64_t r = blockIdx.x;
  const T* xr = x + r * cols;
  double s = 0;
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) s += double(xr[c]);
  const double mu = block_sum(s) / double(cols);
  double ss = 0;
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) ss += (double(xr[c]) - mu) * (double(xr[c]) - mu);
  const double inv = 1.0 / sqrt(block_sum(ss) / double(cols) + eps);
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) y[r * cols + c] = T((double(xr[c]) - mu) * inv);
  if (threadIdx.x == 0) mean[r] = T(mu), rstd[r] = T(inv);
}

// dx = r (dy − mean(dy) − x̂ mean(dy x̂)), x̂ = (x − μ) r.
template <class T>
__global__ void layer_norm_bwd_k(std::int64_t cols, const T* x, const T* mean, const T* rstd, const T* dy, T* dx) {
  const std::int64_t r = blockIdx.x;
  const T* xr = x + r * cols;
  const T* g = dy + r * cols;
  const double mu = mean[r], inv = rstd[r];
  double sg = 0, sgx = 0;
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const double xh = (double(xr[c]) - mu) * inv;
    sg += double(g[c]);
    sgx += double(g[c]) * xh;
  }
  sg = block_sum(sg) / double(cols);
  sgx = block_sum(sgx) / double(cols);
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const double xh = (double(xr[c]) - mu) * inv;
    dx[r * cols + c] = T(inv * (double(g[c]) - sg - xh * sgx));
  }
}

template <class T>
__global__ void modulate_fwd_k(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* x, const T* shift,
                               const T* scale, std::int64_t mod_stride, T* y) {
  CARNOT_GRID_STRIDE(i, batch * tokens * cols) {
    const std::int64_t b = i / (tokens * cols), c = i % cols;
    y[i] = x[i] * (T(1) + scale[b * mod_stride + c]) + shift[b * mod_stride + c];
  }
}
template <class T>
__global__ void modulate_dx_k(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* scale,
                              std::int64_t mod_stride, const T* dy, T* dx) {
  CARNOT_GRID_STRIDE(i, batch * tokens * cols) {
    const std::int64_t b = i / (tokens * cols), c = i % cols;
    dx[i] = dy[i] * (T(1) + scale[b * mod_stride + c]);
  }
}
template <class T>
__global__ void modulate_dparams_k(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* x,
                                   std::int64_t mod_stride, const T* dy, T* dshift, T* dscale) {
  CARNOT_GRID_STRIDE(i, batch * cols) {
    const std::int64_t b = i / cols, c = i % cols;
    T ds = T(0), dc = T(0);
    for (std::int64_t n = 0; n < tokens; ++n) {
      const std::int64_t at = (b * tokens + n) * cols + c;
      ds += dy[at];
      dc += dy[at] * x[at];
    }
    dshift[b * mod_stride + c] = ds;
    dscale[b * mod_stride + c] = dc;
  }
}
template <class T>
__global__ void gated_fwd_k(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* h, const T* gate,
                            std::int64_t mod_stride, T* y) {
  CARNOT_GRID_STRIDE(i, batch * tokens * cols) {
    const std::int64_t b = i / (tokens * cols), c = i % cols;
    y[i] += gate[b * mod_stride + c] * h[i];
  }
}
template <class T>
__global__ void gated_dh_k(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* gate,
                           std::int64_t mod_stride, const T* dy, T* dh) {
  CARNOT_GRID_STRIDE(i, batch * tokens * cols) {
    const std::int64_t b = i / (tokens * cols), c = i % cols;
    dh[i] = dy[i] * gate[b * mod_stride + c];
  }
}
template <class T>
__global__ void gated_dgate_k(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* h,
                              std::int64_t mod_stride, const T* dy, T* dgate) {
  CARNOT_GRID_STRIDE(i, batch * cols) {
    const std::int64_t b = i / cols, c = i % cols;
    T s = T(0);
    for (std::int64_t n = 0; n < tokens; ++n) s += dy[(b * tokens + n) * cols + c] * h[(b * tokens + n) * cols + c];
    dgate[b * mod_stride + c] = s;
  }
}

}  // namespace

template <class T>
void layer_norm_forward(std::int64_t rows, std::int64_t cols, double eps, const T* x, T* y, T* mean, T* rstd) {
  if (rows <= 0) return;
  layer_norm_fwd_k<T><<<unsigned(rows), kThreads>>>(cols, eps, x, y, mean, rstd);
  CARNOT_CUDA_CHECK(cudaGetLastError());
}
template <class T>
void layer_norm_backward(std::int64_t rows, std::int64_t cols, const T* x, const T* mean, const T* rstd, const T* dy,
                         T* dx) {
  if (rows <= 0) return;
  layer_norm_bwd_k<T><<<unsigned(rows), kThreads>>>(cols, x, mean, rstd, dy, dx);
  CARNOT_CUDA_CHECK(cudaGetLastError());
}
template <class T>
void modulate_forward(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* x, const T* shift,
                      const T* scale, std::int64_t mod_stride, T* y) {
  launch(batch * tokens * cols, modulate_fwd_k<T>, batch, tokens, cols, x, shift, scale, mod_stride, y);
}
template <class T>
void modulate_backward(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* x, const T* scale,
                       std::int64_t mod_stride, const T* dy, T* dx, T* dshift, T* dscale) {
  // The parameters' gradients first: dx may alias dy.
  launch(batch * cols, modulate_dparams_k<T>, batch, tokens, cols, x, mod_stride, dy, dshift, dscale);
  launch(batch * tokens * cols, modulate_dx_k<T>, batch, tokens, cols, scale, mod_stride, dy, dx);
}
template <class T>
void gated_residual_forward(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* h, const T* gate,
                            std::int64_t mod_stride, T* y) {
  launch(batch * tokens * cols, gated_fwd_k<T>, batch, tokens, cols, h, gate, mod_stride, y);
}
template <class T>
void gated_residual_backward(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* h, const T* gate,
                             std::int64_t mod_stride, const T* dy, T* dh, T* dgate) {
  // dgate first: dh may alias dy.
  launch(batch * cols, gated_dgate_k<T>, batch, tokens, cols, h, mod_stride, dy, dgate);
  launch(batch * tokens * cols, gated_dh_k<T>, batch, tokens, cols, gate, mod_stride, dy, dh);
}

#define CARNOT_NORMS(T)                                                                                          \
  template void layer_norm_forward<T>(std::int64_t, std::int64_t, double, const T*, T*, T*, T*);                \
  template void layer_norm_backward<T>(std::int64_t, std::int64_t, const T*, const T*, const T*, const T*, T*); \
  template void modulate_forward<T>(std::int64_t, std::int64_t, std::int64_t, const T*, const T*, const T*,     \
                                    std::int64_t, T*);                                                          \
  template void modulate_backward<T>(std::int64_t, std::int64_t, std::int64_t, const T*, const T*, std::int64_t, \
                                     const T*, T*, T*, T*);                                                     \
  template void gated_residual_forward<T>(std::int64_t, std::int64_t, std::int64_t, const T*, const T*,         \
                                          std::int64_t, T*);                                                    \
  template void gated_residual_backward<T>(std::int64_t, std::int64_t, std::int64_t, const T*, const T*,        \
                                           std::int64_t, const T*, T*, T*);
CARNOT_NORMS(float)
CARNOT_NORMS(double)
#undef CARNOT_NORMS

}  // namespace carnot::cuda_kernels
