// LayerNorm without affine (one block per row; float64 statistics in a fixed tree order, as the
// CPU twin's two passes), GroupNorm (one block per sample and group; γ and β's gradients summed
// over the samples in order), DiT's adaLN modulation and gated residual. The per-(sample, column)
// gradients of shift, scale and gate are summed over tokens in order by one thread each. bf16
// computes in float from bf16 values and rounds each output once; its statistics are float32.
#include <cmath>
#include <type_traits>

#include "kernels/cuda/bf16_rows.cuh"
#include "kernels/cuda/element.cuh"
#include "kernels/cuda/kernels.cuh"
#include "kernels/cuda/launch.cuh"

namespace carnot::cuda_kernels {

namespace {

// Statistics are compute_t<T>: float under bf16 (stats_dtype).
template <class T>
__global__ void layer_norm_fwd_k(std::int64_t cols, double eps, const T* x, T* y, compute_t<T>* mean,
                                 compute_t<T>* rstd) {
  using C = compute_t<T>;
  const std::int64_t r = blockIdx.x;
  const T* xr = x + r * cols;
  double mu, inv;
  block_moments(xr, cols, eps, &mu, &inv);
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x)
    y[r * cols + c] = st<T>(C((double(ld(xr[c])) - mu) * inv));
  if (threadIdx.x == 0) mean[r] = C(mu), rstd[r] = C(inv);
}

// dx = r (dy − mean(dy) − x̂ mean(dy x̂)), x̂ = (x − μ) r.
template <class T>
__global__ void layer_norm_bwd_k(std::int64_t cols, const T* x, const compute_t<T>* mean, const compute_t<T>* rstd,
                                 const T* dy, T* dx) {
  using C = compute_t<T>;
  const std::int64_t r = blockIdx.x;
  const T* xr = x + r * cols;
  const T* g = dy + r * cols;
  const double mu = mean[r], inv = rstd[r];
  double sg = 0, sgx = 0;
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const double xh = (double(ld(xr[c])) - mu) * inv;
    sg += double(ld(g[c]));
    sgx += double(ld(g[c])) * xh;
  }
  sg = block_sum(sg) / double(cols);
  sgx = block_sum(sgx) / double(cols);
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const double xh = (double(ld(xr[c])) - mu) * inv;
    dx[r * cols + c] = st<T>(C(inv * (double(ld(g[c])) - sg - xh * sgx)));
  }
}

template <class T>
__global__ void modulate_fwd_k(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* x, const T* shift,
                               const T* scale, std::int64_t mod_stride, T* y) {
  CARNOT_GRID_STRIDE(i, batch * tokens * cols) {
    const std::int64_t b = i / (tokens * cols), c = i % cols;
    using C = compute_t<T>;
    y[i] = st<T>(ld(x[i]) * (C(1) + ld(scale[b * mod_stride + c])) + ld(shift[b * mod_stride + c]));
  }
}
template <class T>
__global__ void modulate_dx_k(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* scale,
                              std::int64_t mod_stride, const T* dy, T* dx) {
  CARNOT_GRID_STRIDE(i, batch * tokens * cols) {
    const std::int64_t b = i / (tokens * cols), c = i % cols;
    dx[i] = st<T>(ld(dy[i]) * (compute_t<T>(1) + ld(scale[b * mod_stride + c])));
  }
}
template <class T>
__global__ void modulate_dparams_k(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* x,
                                   std::int64_t mod_stride, const T* dy, T* dshift, T* dscale) {
  CARNOT_GRID_STRIDE(i, batch * cols) {
    const std::int64_t b = i / cols, c = i % cols;
    compute_t<T> ds = 0, dc = 0;
    for (std::int64_t n = 0; n < tokens; ++n) {
      const std::int64_t at = (b * tokens + n) * cols + c;
      ds += ld(dy[at]);
      dc += ld(dy[at]) * ld(x[at]);
    }
    dshift[b * mod_stride + c] = st<T>(ds);
    dscale[b * mod_stride + c] = st<T>(dc);
  }
}
template <class T>
__global__ void gated_fwd_k(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* x, const T* h,
                            const T* gate, std::int64_t mod_stride, T* y) {
  CARNOT_GRID_STRIDE(i, batch * tokens * cols) {
    const std::int64_t b = i / (tokens * cols), c = i % cols;
    y[i] = st<T>(ld(x[i]) + ld(gate[b * mod_stride + c]) * ld(h[i]));
  }
}
template <class T>
__global__ void gated_dh_k(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* gate,
                           std::int64_t mod_stride, const T* dy, T* dh) {
  CARNOT_GRID_STRIDE(i, batch * tokens * cols) {
    const std::int64_t b = i / (tokens * cols), c = i % cols;
    dh[i] = st<T>(ld(dy[i]) * ld(gate[b * mod_stride + c]));
  }
}
template <class T>
__global__ void gated_dgate_k(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* h,
                              std::int64_t mod_stride, const T* dy, T* dgate) {
  CARNOT_GRID_STRIDE(i, batch * cols) {
    const std::int64_t b = i / cols, c = i % cols;
    compute_t<T> s = 0;
    for (std::int64_t n = 0; n < tokens; ++n)
      s += ld(dy[(b * tokens + n) * cols + c]) * ld(h[(b * tokens + n) * cols + c]);
    dgate[b * mod_stride + c] = st<T>(s);
  }
}

// GroupNorm: one block per (sample, group); a group's channels are contiguous in NCHW.
template <class T>
__global__ void group_norm_fwd_k(std::int64_t groups, std::int64_t cpg, std::int64_t hw, double eps, const T* x,
                                 const T* gamma, const T* beta, T* y, compute_t<T>* mean, compute_t<T>* rstd) {
  using C = compute_t<T>;
  const std::int64_t bg = blockIdx.x, per = cpg * hw;
  const T* xg = x + bg * per;
  double mu, inv;
  block_moments(xg, per, eps, &mu, &inv);
  const std::int64_t c0 = (bg % groups) * cpg;
  for (std::int64_t i = threadIdx.x; i < per; i += blockDim.x) {
    const std::int64_t c = c0 + i / hw;
    const double a = gamma ? inv * double(ld(gamma[c])) : inv, b = (gamma ? double(ld(beta[c])) : 0.0) - mu * a;
    y[bg * per + i] = st<T>(ld(xg[i]) * C(a) + C(b));
  }
  if (threadIdx.x == 0) mean[bg] = C(mu), rstd[bg] = C(inv);
}
// Per (sample, channel): Σ dy and Σ dy x̂ (float64), into sums[2 (b·C + c)].
template <class T>
__global__ void group_norm_sums_k(std::int64_t channels, std::int64_t groups, std::int64_t hw, const T* x,
                                  const compute_t<T>* mean, const compute_t<T>* rstd, const T* dy, double* sums) {
  const std::int64_t bc = blockIdx.x, b = bc / channels, c = bc % channels;
  const std::int64_t bg = b * groups + c / (channels / groups);
  const double mu = mean[bg], inv = rstd[bg];
  double sg = 0, sgx = 0;
  for (std::int64_t i = threadIdx.x; i < hw; i += blockDim.x) {
    const double g = double(ld(dy[bc * hw + i]));
    sg += g;
    sgx += g * ((double(ld(x[bc * hw + i])) - mu) * inv);
  }
  sg = block_sum(sg);
  sgx = block_sum(sgx);
  if (threadIdx.x == 0) sums[2 * bc] = sg, sums[2 * bc + 1] = sgx;
}
// dγ, dβ: one thread per channel adds the samples in order (as the CPU twin, in T).
template <class T>
__global__ void group_norm_dparams_k(std::int64_t batch, std::int64_t channels, const double* sums, T* dgamma,
                                     T* dbeta) {
  CARNOT_GRID_STRIDE(c, channels) {
    using C = compute_t<T>;
    for (std::int64_t b = 0; b < batch; ++b) {
      dgamma[c] = st<T>(ld(dgamma[c]) + C(sums[2 * (b * channels + c) + 1]));
      dbeta[c] = st<T>(ld(dbeta[c]) + C(sums[2 * (b * channels + c)]));
    }
  }
}
// dx = inv (dy γ − sg − x̂ sgx) with the group's sg, sgx from the channels' sums (in order).
template <class T>
__global__ void group_norm_dx_k(std::int64_t channels, std::int64_t groups, std::int64_t hw, const T* x,
                                const T* gamma, const compute_t<T>* mean, const compute_t<T>* rstd, const double* sums,
                                const T* dy, T* dx) {
  using C = compute_t<T>;
  const std::int64_t bg = blockIdx.x, cpg = channels / groups, per = cpg * hw;
  const std::int64_t b = bg / groups, c0 = (bg % groups) * cpg;
  const double mu = mean[bg], inv = rstd[bg];
  double sg = 0, sgx = 0;
  for (std::int64_t k = 0; k < cpg; ++k) {
    const double gk = gamma ? double(ld(gamma[c0 + k])) : 1.0;
    sg += gk * sums[2 * (b * channels + c0 + k)];
    sgx += gk * sums[2 * (b * channels + c0 + k) + 1];
  }
  sg /= double(per);
  sgx /= double(per);
  for (std::int64_t i = threadIdx.x; i < per; i += blockDim.x) {
    const double gk = gamma ? double(ld(gamma[c0 + i / hw])) : 1.0;
    const C a = C(inv * gk), bb = C(-inv * inv * sgx), cc = C(inv * (mu * inv * sgx - sg));
    dx[bg * per + i] = st<T>(ld(dy[bg * per + i]) * a + ld(x[bg * per + i]) * bb + cc);
  }
}

// Device scratch for GroupNorm's per-channel sums.
double* sums_scratch(std::size_t count) {
  static GrowingScratch scratch;
  return static_cast<double*>(scratch.get(count * sizeof(double)));
}

}  // namespace

template <class T>
void layer_norm_forward(std::int64_t rows, std::int64_t cols, double eps, const T* x, T* y, compute_t<T>* mean,
                        compute_t<T>* rstd) {
  if (rows <= 0) return;
  layer_norm_fwd_k<T><<<unsigned(rows), kThreads>>>(cols, eps, x, y, mean, rstd);
  CARNOT_CUDA_CHECK(cudaGetLastError());
}
template <class T>
void layer_norm_backward(std::int64_t rows, std::int64_t cols, const T* x, const compute_t<T>* mean,
                         const compute_t<T>* rstd, const T* dy, T* dx) {
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
void gated_residual_forward(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* x, const T* h,
                            const T* gate, std::int64_t mod_stride, T* y) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    if (gated_forward_bf16_rows(batch, tokens, cols, x, h, gate, mod_stride, y)) return;
  launch(batch * tokens * cols, gated_fwd_k<T>, batch, tokens, cols, x, h, gate, mod_stride, y);
}
template <class T>
void gated_residual_backward(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* h, const T* gate,
                             std::int64_t mod_stride, const T* dy, T* dh, T* dgate) {
  // dgate first: dh may alias dy.
  bool summed = false;
  if constexpr (std::is_same_v<T, __nv_bfloat16>) summed = gated_dgate_bf16_rows(batch, tokens, cols, h, mod_stride, dy, dgate);
  if (!summed) launch(batch * cols, gated_dgate_k<T>, batch, tokens, cols, h, mod_stride, dy, dgate);
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    if (gated_dh_bf16_rows(batch, tokens, cols, gate, mod_stride, dy, dh)) return;
  launch(batch * tokens * cols, gated_dh_k<T>, batch, tokens, cols, gate, mod_stride, dy, dh);
}

template <class T>
void group_norm_forward(std::int64_t batch, std::int64_t channels, std::int64_t hw, std::int64_t groups, double eps,
                        const T* x, const T* gamma, const T* beta, T* y, compute_t<T>* mean, compute_t<T>* rstd) {
  if (batch * groups <= 0) return;
  group_norm_fwd_k<T><<<unsigned(batch * groups), kThreads>>>(groups, channels / groups, hw, eps, x, gamma, beta, y,
                                                                mean, rstd);
  CARNOT_CUDA_CHECK(cudaGetLastError());
}
template <class T>
void group_norm_backward(std::int64_t batch, std::int64_t channels, std::int64_t hw, std::int64_t groups, const T* x,
                         const T* gamma, const compute_t<T>* mean, const compute_t<T>* rstd, const T* dy, T* dx,
                         T* dgamma, T* dbeta) {
  if (batch * channels <= 0) return;
  double* sums = sums_scratch(std::size_t(2 * batch * channels));
  group_norm_sums_k<T><<<unsigned(batch * channels), kThreads>>>(channels, groups, hw, x, mean, rstd, dy, sums);
  CARNOT_CUDA_CHECK(cudaGetLastError());
  if (gamma) launch(channels, group_norm_dparams_k<T>, batch, channels, static_cast<const double*>(sums), dgamma, dbeta);
  group_norm_dx_k<T><<<unsigned(batch * groups), kThreads>>>(channels, groups, hw, x, gamma, mean, rstd, sums, dy, dx);
  CARNOT_CUDA_CHECK(cudaGetLastError());
}

#define CARNOT_DIT_NORMS(T)                                                                                      \
  template void layer_norm_forward<T>(std::int64_t, std::int64_t, double, const T*, T*, compute_t<T>*,          \
                                      compute_t<T>*);                                                            \
  template void layer_norm_backward<T>(std::int64_t, std::int64_t, const T*, const compute_t<T>*,               \
                                       const compute_t<T>*, const T*, T*);                                       \
  template void modulate_forward<T>(std::int64_t, std::int64_t, std::int64_t, const T*, const T*, const T*,     \
                                    std::int64_t, T*);                                                          \
  template void modulate_backward<T>(std::int64_t, std::int64_t, std::int64_t, const T*, const T*, std::int64_t, \
                                     const T*, T*, T*, T*);                                                     \
  template void gated_residual_forward<T>(std::int64_t, std::int64_t, std::int64_t, const T*, const T*,         \
                                          const T*, std::int64_t, T*);                                          \
  template void gated_residual_backward<T>(std::int64_t, std::int64_t, std::int64_t, const T*, const T*,        \
                                           std::int64_t, const T*, T*, T*);
#define CARNOT_GROUP_NORM(T)                                                                                     \
  template void group_norm_forward<T>(std::int64_t, std::int64_t, std::int64_t, std::int64_t, double, const T*,  \
                                      const T*, const T*, T*, compute_t<T>*, compute_t<T>*);                    \
  template void group_norm_backward<T>(std::int64_t, std::int64_t, std::int64_t, std::int64_t, const T*, const T*, \
                                       const compute_t<T>*, const compute_t<T>*, const T*, T*, T*, T*);
CARNOT_DIT_NORMS(float)
CARNOT_DIT_NORMS(double)
CARNOT_DIT_NORMS(__nv_bfloat16)
CARNOT_GROUP_NORM(float)
CARNOT_GROUP_NORM(double)
CARNOT_GROUP_NORM(__nv_bfloat16)
#undef CARNOT_DIT_NORMS
#undef CARNOT_GROUP_NORM

}  // namespace carnot::cuda_kernels
