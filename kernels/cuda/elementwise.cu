// Elementwise kernels: activations and their gradients, sums and scaling, bias and its gradient,
// and the optimizer steps over the flat fp32 buffer. The math is the CPU twin's
// (kernels/cpu/elementwise.cpp, optimizer_steps.cpp); grid-stride loops.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kernels/cuda/bf16_rows.cuh"
#include "kernels/cuda/element.cuh"
#include "kernels/cuda/kernels.cuh"
#include "kernels/cuda/launch.cuh"

namespace carnot::cuda_kernels {

namespace {

template <class C> __device__ C sigmoid_d(C x) { return C(1) / (C(1) + exp(-x)); }

// Each kernel loads into C = compute_t<T> and stores once (element.cuh): float and double as before,
// bf16 computed in float.
template <class T> __global__ void silu_fwd_k(std::int64_t n, const T* x, T* y) {
  using C = compute_t<T>;
  CARNOT_GRID_STRIDE(i, n) {
    const C v = ld(x[i]);
    y[i] = st<T>(v * sigmoid_d(v));
  }
}
template <class T> __global__ void silu_bwd_k(std::int64_t n, const T* x, const T* dy, T* dx) {
  using C = compute_t<T>;
  CARNOT_GRID_STRIDE(i, n) {
    const C v = ld(x[i]), s = sigmoid_d(v);
    dx[i] = st<T>(ld(dy[i]) * s * (C(1) + v * (C(1) - s)));
  }
}
template <class T> __global__ void relu_fwd_k(std::int64_t n, const T* x, T* y) {
  using C = compute_t<T>;
  CARNOT_GRID_STRIDE(i, n) y[i] = ld(x[i]) > C(0) ? x[i] : st<T>(C(0));
}
template <class T> __global__ void relu_bwd_k(std::int64_t n, const T* x, const T* dy, T* dx) {
  using C = compute_t<T>;
  CARNOT_GRID_STRIDE(i, n) dx[i] = ld(x[i]) > C(0) ? dy[i] : st<T>(C(0));
}
// GELU, tanh form (DiT's approximate="tanh").
template <class T> __global__ void gelu_fwd_k(std::int64_t n, const T* x, T* y) {
  using C = compute_t<T>;
  const C k = C(0.7978845608028654), a = C(0.044715);
  CARNOT_GRID_STRIDE(i, n) {
    const C v = ld(x[i]);
    y[i] = st<T>(C(0.5) * v * (C(1) + tanh(k * (v + a * v * v * v))));
  }
}
template <class T> __global__ void gelu_bwd_k(std::int64_t n, const T* x, const T* dy, T* dx) {
  using C = compute_t<T>;
  const C k = C(0.7978845608028654), a = C(0.044715);
  CARNOT_GRID_STRIDE(i, n) {
    const C v = ld(x[i]);
    const C th = tanh(k * (v + a * v * v * v));
    dx[i] = st<T>(ld(dy[i]) * (C(0.5) * (C(1) + th) + C(0.5) * v * (C(1) - th * th) * k * (C(1) + C(3) * a * v * v)));
  }
}
template <class T> __global__ void add_k(std::int64_t n, const T* a, const T* b, T* y) {
  CARNOT_GRID_STRIDE(i, n) y[i] = st<T>(ld(a[i]) + ld(b[i]));
}
template <class T> __global__ void accumulate_k(std::int64_t n, const T* x, T* y) {
  CARNOT_GRID_STRIDE(i, n) y[i] = st<T>(ld(y[i]) + ld(x[i]));
}
template <class T> __global__ void scale_k(std::int64_t n, compute_t<T> s, T* y) {
  CARNOT_GRID_STRIDE(i, n) y[i] = st<T>(ld(y[i]) * s);
}
template <class T> __global__ void add_bias_k(std::int64_t rows, std::int64_t cols, const T* bias, T* y) {
  CARNOT_GRID_STRIDE(i, rows * cols) y[i] = st<T>(ld(y[i]) + ld(bias[i % cols]));
}
// dbias += Σ_r dy[r, :] in two deterministic stages (no atomics): one thread per (chunk of rows,
// column) sums its rows in order into partial[chunk, column] (bf16: a thread per 8 columns,
// bias_grad_partial_bf16_rows); then one thread per column adds the chunks in order. Chunks of at
// least kBiasChunk rows, and no more than kBiasChunksMax of them: the second stage walks them one
// dependent load after another (1024 chunks of DiT-B/2's 131072 rows made bias_grad latency-bound).
constexpr std::int64_t kBiasChunk = 128, kBiasChunksMax = 512;
std::int64_t bias_chunk_rows(std::int64_t rows) {
  return std::max(kBiasChunk, (rows + kBiasChunksMax - 1) / kBiasChunksMax);
}
template <class T>
__global__ void bias_grad_partial_k(std::int64_t rows, std::int64_t cols, std::int64_t chunk_rows, const T* dy,
                                    compute_t<T>* partial) {
  CARNOT_GRID_STRIDE(i, (rows + chunk_rows - 1) / chunk_rows * cols) {
    const std::int64_t chunk = i / cols, c = i % cols, end = min(rows, (chunk + 1) * chunk_rows);
    compute_t<T> s = 0;
    for (std::int64_t r = chunk * chunk_rows; r < end; ++r) s += ld(dy[r * cols + c]);
    partial[i] = s;
  }
}
template <class T>
__global__ void bias_grad_total_k(std::int64_t chunks, std::int64_t cols, const compute_t<T>* partial, T* dbias) {
  CARNOT_GRID_STRIDE(c, cols) {
    compute_t<T> s = ld(dbias[c]);
#pragma unroll 8  // the loads go out together; the adds stay in chunk order
    for (std::int64_t k = 0; k < chunks; ++k) s += partial[k * cols + c];
    dbias[c] = st<T>(s);
  }
}

// Device scratch for bias_grad's partial sums.
void* partial_scratch(std::size_t bytes) {
  static GrowingScratch scratch;
  return scratch.get(bytes);
}

// AdamW with the step's scalars from the host (the CPU twin's bias corrections, in float64), and
// optionally what follows it (Ops::adamw_ema_step): the gradient scaled first (written back to
// g_scaled), the EMA and the bf16 copy after; each buffer read and written once.
struct AdamwScalars {
  float beta1, beta2, eps, decay, step_size, bc2_sqrt;
  AdamwScalars(float lr, float b1, float b2, float e, float weight_decay, std::int64_t step)
      : beta1(b1), beta2(b2), eps(e), decay(1.0f - lr * weight_decay) {
    const double bc1 = 1.0 - std::pow(double(b1), double(step)), bc2 = 1.0 - std::pow(double(b2), double(step));
    step_size = float(lr / bc1), bc2_sqrt = float(std::sqrt(bc2));
  }
};
__global__ void adamw_k(std::int64_t n, float* p, const float* g, float* g_scaled, float gscale, float* m, float* v,
                        AdamwScalars a, float* e, float ema_decay, __nv_bfloat16* p16) {
  CARNOT_GRID_STRIDE(i, n) {
    float gi = g[i];
    if (g_scaled) g_scaled[i] = gi = gi * gscale;
    const float mi = a.beta1 * m[i] + (1.0f - a.beta1) * gi;
    const float vi = a.beta2 * v[i] + (1.0f - a.beta2) * gi * gi;
    m[i] = mi, v[i] = vi;
    const float pi = p[i] * a.decay - a.step_size * mi / (sqrtf(vi) / a.bc2_sqrt + a.eps);
    p[i] = pi;
    if (e) e[i] = ema_decay * e[i] + (1.0f - ema_decay) * pi;
    if (p16) p16[i] = __float2bfloat16_rn(pi);
  }
}
__global__ void sgd_k(std::int64_t n, float* p, const float* grad, float* buf, float lr, float momentum, float wd,
                      bool nesterov) {
  CARNOT_GRID_STRIDE(i, n) {
    float g = grad[i] + wd * p[i];
    if (momentum > 0) {
      buf[i] = momentum * buf[i] + g;
      g = nesterov ? g + momentum * buf[i] : buf[i];
    }
    p[i] -= lr * g;
  }
}
__global__ void ema_k(std::int64_t n, float decay, const float* p, float* e) {
  CARNOT_GRID_STRIDE(i, n) e[i] = decay * e[i] + (1.0f - decay) * p[i];
}

}  // namespace

template <class T> void silu_forward(std::int64_t n, const T* x, T* y) { launch(n, silu_fwd_k<T>, n, x, y); }
template <class T> void silu_backward(std::int64_t n, const T* x, const T* dy, T* dx) {
  launch(n, silu_bwd_k<T>, n, x, dy, dx);
}
template <class T> void relu_forward(std::int64_t n, const T* x, T* y) { launch(n, relu_fwd_k<T>, n, x, y); }
template <class T> void relu_backward(std::int64_t n, const T* x, const T* dy, T* dx) {
  launch(n, relu_bwd_k<T>, n, x, dy, dx);
}
template <class T> void gelu_forward(std::int64_t n, const T* x, T* y) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    if (gelu_forward_bf16_rows(n, x, y)) return;
  launch(n, gelu_fwd_k<T>, n, x, y);
}
template <class T> void gelu_backward(std::int64_t n, const T* x, const T* dy, T* dx) {
  launch(n, gelu_bwd_k<T>, n, x, dy, dx);
}
template <class T> void add(std::int64_t n, const T* a, const T* b, T* y) { launch(n, add_k<T>, n, a, b, y); }
template <class T> void accumulate(std::int64_t n, const T* x, T* y) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    if (accumulate_bf16_rows(n, x, y)) return;
  launch(n, accumulate_k<T>, n, x, y);
}
template <class T> void scale(std::int64_t n, double s, T* y) { launch(n, scale_k<T>, n, compute_t<T>(s), y); }
template <class T> void add_bias(std::int64_t rows, std::int64_t cols, const T* bias, T* y) {
  launch(rows * cols, add_bias_k<T>, rows, cols, bias, y);
}
template <class T> void bias_grad(std::int64_t rows, std::int64_t cols, const T* dy, T* dbias) {
  if (rows <= 0 || cols <= 0) return;
  const std::int64_t chunk_rows = bias_chunk_rows(rows), chunks = (rows + chunk_rows - 1) / chunk_rows;
  auto* partial = static_cast<compute_t<T>*>(partial_scratch(std::size_t(chunks * cols) * sizeof(compute_t<T>)));
  bool vector_done = false;
  if constexpr (std::is_same_v<T, __nv_bfloat16>) vector_done = bias_grad_partial_bf16_rows(rows, cols, chunk_rows, dy, partial);
  if (!vector_done) launch(chunks * cols, bias_grad_partial_k<T>, rows, cols, chunk_rows, dy, partial);
  launch(cols, bias_grad_total_k<T>, chunks, cols, static_cast<const compute_t<T>*>(partial), dbias);
}

void adamw_step(std::int64_t n, float* param, const float* grad, float* m, float* v, float lr, float beta1,
                float beta2, float eps, float weight_decay, std::int64_t step) {
  launch(n, adamw_k, n, param, grad, static_cast<float*>(nullptr), 1.0f, m, v,
         AdamwScalars(lr, beta1, beta2, eps, weight_decay, step), static_cast<float*>(nullptr), 0.0f,
         static_cast<__nv_bfloat16*>(nullptr));
}
void sgd_step(std::int64_t n, float* param, const float* grad, float* buf, float lr, float momentum,
              float weight_decay, bool nesterov) {
  launch(n, sgd_k, n, param, grad, buf, lr, momentum, weight_decay, nesterov);
}
void ema_update(std::int64_t n, float decay, const float* param, float* ema) { launch(n, ema_k, n, decay, param, ema); }
void adamw_ema_step(std::int64_t n, float* param, float* grad, double grad_scale, float* m, float* v, float lr,
                    float beta1, float beta2, float eps, float weight_decay, std::int64_t step, float* ema,
                    float ema_decay, __nv_bfloat16* param_bf16) {
  launch(n, adamw_k, n, param, grad, grad_scale != 1.0 ? grad : nullptr, float(grad_scale), m, v,
         AdamwScalars(lr, beta1, beta2, eps, weight_decay, step), ema, ema_decay, param_bf16);
}

#define CARNOT_ELEMENTWISE(T)                                                            \
  template void silu_forward<T>(std::int64_t, const T*, T*);                            \
  template void silu_backward<T>(std::int64_t, const T*, const T*, T*);                 \
  template void relu_forward<T>(std::int64_t, const T*, T*);                            \
  template void relu_backward<T>(std::int64_t, const T*, const T*, T*);                 \
  template void gelu_forward<T>(std::int64_t, const T*, T*);                            \
  template void gelu_backward<T>(std::int64_t, const T*, const T*, T*);                 \
  template void add<T>(std::int64_t, const T*, const T*, T*);                           \
  template void accumulate<T>(std::int64_t, const T*, T*);                              \
  template void scale<T>(std::int64_t, double, T*);                                     \
  template void add_bias<T>(std::int64_t, std::int64_t, const T*, T*);                  \
  template void bias_grad<T>(std::int64_t, std::int64_t, const T*, T*);
CARNOT_ELEMENTWISE(float)
CARNOT_ELEMENTWISE(double)
CARNOT_ELEMENTWISE(__nv_bfloat16)
#undef CARNOT_ELEMENTWISE

}  // namespace carnot::cuda_kernels
