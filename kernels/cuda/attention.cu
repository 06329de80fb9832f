// Multi-head self-attention on DiT's fused qkv, the CPU twin's algorithm (kernels/cpu/attention.cpp)
// with one sample's heads batched into strided cuBLAS GEMMs and the softmax, its log-sum-exp and
// its gradient in one block per row (float64 row sums, fixed order). The probabilities are
// materialised in scratch, one sample at a time, and recomputed in backward from the saved lse.
// float and double always take this path; bf16 takes the fused kernel (flash_attention.cu) where
// it applies and this one (logits and dP in float32, P and dS rounded to bf16) elsewhere.
#include <cmath>
#include <type_traits>

#include <cuda_bf16.h>

#include "kernels/cuda/element.cuh"
#include "kernels/cuda/flash_attention.cuh"
#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/kernels.cuh"
#include "kernels/cuda/launch.cuh"

namespace carnot::cuda_kernels {

namespace {

__device__ inline double block_max(double v) {
  __shared__ double cache[kThreads];
  __syncthreads();
  cache[threadIdx.x] = v;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (int(threadIdx.x) < half) cache[threadIdx.x] = fmax(cache[threadIdx.x], cache[threadIdx.x + half]);
    __syncthreads();
  }
  return cache[0];
}

// Row r of the logits s (length n, already scaled): P = e^{s − max} / Σ in p and lse[r] = log Σ e^s
// (as the CPU twin).
template <class T> __global__ void softmax_lse_k(std::int64_t n, const compute_t<T>* s, compute_t<T>* lse, T* p) {
  using S = compute_t<T>;
  const std::int64_t r = blockIdx.x;
  const S* sr = s + r * n;
  T* pr = p + r * n;
  double mx = -INFINITY;
  for (std::int64_t j = threadIdx.x; j < n; j += blockDim.x) mx = fmax(mx, double(sr[j]));
  mx = block_max(mx);
  double sum = 0;
  for (std::int64_t j = threadIdx.x; j < n; j += blockDim.x) sum += exp(double(sr[j]) - mx);
  sum = block_sum(sum);
  if (threadIdx.x == 0) lse[r] = S(mx + log(sum));
  const double inv = 1.0 / sum;
  for (std::int64_t j = threadIdx.x; j < n; j += blockDim.x) pr[j] = st<T>(S(exp(double(sr[j]) - mx) * inv));
}

// P = e^{s − lse} row by row (backward's recomputation).
template <class T> __global__ void probs_from_lse_k(std::int64_t n, const compute_t<T>* s, const compute_t<T>* lse, T* p) {
  using S = compute_t<T>;
  const std::int64_t r = blockIdx.x;
  const double l = double(lse[r]);
  for (std::int64_t j = threadIdx.x; j < n; j += blockDim.x) p[r * n + j] = st<T>(S(exp(double(s[r * n + j]) - l)));
}

// Row r = h·N + i of one sample: dS = P ⊙ (dP − Δ), Δ = Σ_d dO_id O_id (head h's columns of out and
// dout). dp may alias ds (float and double).
template <class T>
__global__ void softmax_grad_k(std::int64_t N, std::int64_t C, std::int64_t D, const T* p, const compute_t<T>* dp,
                               const T* out, const T* dout, T* ds) {
  using S = compute_t<T>;
  const std::int64_t r = blockIdx.x, h = r / N, i = r % N;
  double delta = 0;
  for (std::int64_t d = threadIdx.x; d < D; d += blockDim.x)
    delta += double(ld(dout[i * C + h * D + d])) * double(ld(out[i * C + h * D + d]));
  delta = block_sum(delta);
  for (std::int64_t j = threadIdx.x; j < N; j += blockDim.x)
    ds[r * N + j] = st<T>(S(double(ld(p[r * N + j])) * (double(dp[r * N + j]) - delta)));
}

// One sample's heads as one strided batched GEMM; c is float32 logits (logits) or T.
template <class T>
void head_gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha, const T* a,
               std::int64_t lda, const T* b, std::int64_t ldb, void* c, std::int64_t ldc, bool logits,
               std::int64_t count, std::int64_t stride_a, std::int64_t stride_b, std::int64_t stride_c) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    gemm_bf16(trans_a, trans_b, m, n, k, float(alpha), a, lda, b, ldb, 0.0f, c, ldc, logits, count, stride_a, stride_b,
              stride_c);
  else
    gemm<T>(trans_a, trans_b, m, n, k, T(alpha), a, lda, b, ldb, T(0), static_cast<T*>(c), ldc, count, stride_a,
            stride_b, stride_c);
}

// Device scratch: logits (and dP), P, dS — one sample's heads.
void* scratch(std::size_t bytes, int slot) {
  static GrowingScratch slots[3];
  return slots[slot].get(bytes);
}

template <class T>
void materialized_forward(std::int64_t batch, std::int64_t N, std::int64_t H, std::int64_t D, const T* qkv,
                          compute_t<T>* lse, T* out) {
  using S = compute_t<T>;
  const std::int64_t C = H * D, ld = 3 * C, HNN = H * N * N;
  const double scale = 1.0 / std::sqrt(double(D));
  if (HNN == 0) return;
  S* s = static_cast<S*>(scratch(std::size_t(HNN) * sizeof(S), 0));
  T* p = static_cast<T*>(scratch(std::size_t(HNN) * sizeof(T), 1));
  for (std::int64_t b = 0; b < batch; ++b) {
    const T* q = qkv + b * N * ld;
    head_gemm<T>(false, true, N, N, D, scale, q, ld, q + C, ld, s, N, true, H, D, D, N * N);
    softmax_lse_k<T><<<unsigned(H * N), kThreads>>>(N, s, lse + b * H * N, p);
    CARNOT_CUDA_CHECK(cudaGetLastError());
    head_gemm<T>(false, false, N, D, N, 1.0, p, N, q + 2 * C, ld, out + b * N * C, C, false, H, N * N, D, D);
  }
}

template <class T>
void materialized_backward(std::int64_t batch, std::int64_t N, std::int64_t H, std::int64_t D, const T* qkv,
                           const compute_t<T>* lse, const T* out, const T* dout, T* dqkv) {
  using S = compute_t<T>;
  const std::int64_t C = H * D, ld = 3 * C, HNN = H * N * N;
  const double scale = 1.0 / std::sqrt(double(D));
  if (HNN == 0) return;
  S* s = static_cast<S*>(scratch(std::size_t(HNN) * sizeof(S), 0));
  T* p = static_cast<T*>(scratch(std::size_t(HNN) * sizeof(T), 1));
  T* ds = static_cast<T*>(scratch(std::size_t(HNN) * sizeof(T), 2));
  for (std::int64_t b = 0; b < batch; ++b) {
    const T* q = qkv + b * N * ld;
    const T* out_b = out + b * N * C;
    const T* dout_b = dout + b * N * C;
    T* dq = dqkv + b * N * ld;
    head_gemm<T>(false, true, N, N, D, scale, q, ld, q + C, ld, s, N, true, H, D, D, N * N);  // S again
    probs_from_lse_k<T><<<unsigned(H * N), kThreads>>>(N, s, lse + b * H * N, p);
    CARNOT_CUDA_CHECK(cudaGetLastError());
    head_gemm<T>(true, false, N, D, N, 1.0, p, N, dout_b, C, dq + 2 * C, ld, false, H, N * N, D, D);  // dV = Pᵀ dO
    head_gemm<T>(false, true, N, N, D, 1.0, dout_b, C, q + 2 * C, ld, s, N, true, H, D, D, N * N);    // dP = dO Vᵀ
    softmax_grad_k<T><<<unsigned(H * N), kThreads>>>(N, C, D, p, s, out_b, dout_b, ds);
    CARNOT_CUDA_CHECK(cudaGetLastError());
    head_gemm<T>(false, false, N, D, N, scale, ds, N, q + C, ld, dq, ld, false, H, N * N, D, D);  // dQ = dS K / √D
    head_gemm<T>(true, false, N, D, N, scale, ds, N, q, ld, dq + C, ld, false, H, N * N, D, D);   // dK = dSᵀ Q / √D
  }
}

}  // namespace

template <class T>
void attention_forward(std::int64_t batch, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim, const T* qkv,
                       compute_t<T>* lse, T* out) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    if (!plain_kernels_only() && flash_attention_applies(head_dim, qkv, out))
      return flash_attention_forward(batch, tokens, heads, head_dim, qkv, lse, out);
  materialized_forward<T>(batch, tokens, heads, head_dim, qkv, lse, out);
}

template <class T>
void attention_backward(std::int64_t batch, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim,
                        const T* qkv, const compute_t<T>* lse, const T* out, const T* dout, T* dqkv) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    if (!plain_kernels_only() && flash_attention_applies(head_dim, qkv, out) &&
        flash_attention_applies(head_dim, dout, dqkv))
      return flash_attention_backward(batch, tokens, heads, head_dim, qkv, lse, out, dout, dqkv);
  materialized_backward<T>(batch, tokens, heads, head_dim, qkv, lse, out, dout, dqkv);
}

#define CARNOT_ATTENTION(T)                                                                                        \
  template void attention_forward<T>(std::int64_t, std::int64_t, std::int64_t, std::int64_t, const T*,             \
                                     compute_t<T>*, T*);                                                          \
  template void attention_backward<T>(std::int64_t, std::int64_t, std::int64_t, std::int64_t, const T*,            \
                                      const compute_t<T>*, const T*, const T*, T*);
CARNOT_ATTENTION(float)
CARNOT_ATTENTION(double)
CARNOT_ATTENTION(__nv_bfloat16)
#undef CARNOT_ATTENTION

}  // namespace carnot::cuda_kernels
