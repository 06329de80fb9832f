// Multi-head self-attention on DiT's fused qkv, as the CPU twin (kernels/cpu/attention.cpp) but with
// the heads of a sample batched into strided cuBLAS GEMMs and the softmax and its gradient in
// one block per row (float64 row sums, fixed order). A first, exact version: the probabilities
// are materialised (N² per head); the fused FlashAttention-style kernels are issue 7's next step.
#include <cmath>

#include <cuda_bf16.h>

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

// Each row of p (length n) becomes its softmax.
template <class T> __global__ void softmax_rows_k(std::int64_t n, T* p) {
  T* row = p + std::int64_t(blockIdx.x) * n;
  double mx = -INFINITY;
  for (std::int64_t j = threadIdx.x; j < n; j += blockDim.x) mx = fmax(mx, double(row[j]));
  mx = block_max(mx);
  double s = 0;
  for (std::int64_t j = threadIdx.x; j < n; j += blockDim.x) {
    const T e = T(exp(double(row[j]) - mx));
    row[j] = e;
    s += double(e);
  }
  const double inv = 1.0 / block_sum(s);
  for (std::int64_t j = threadIdx.x; j < n; j += blockDim.x) row[j] = T(double(row[j]) * inv);
}

// ds ← P ⊙ (dP − rowsum(dP ⊙ P)), row by row (ds holds dP on entry).
template <class T> __global__ void softmax_grad_rows_k(std::int64_t n, const T* p, T* ds) {
  const std::int64_t r = blockIdx.x;
  const T* pr = p + r * n;
  T* dr = ds + r * n;
  double dot = 0;
  for (std::int64_t j = threadIdx.x; j < n; j += blockDim.x) dot += double(dr[j]) * double(pr[j]);
  dot = block_sum(dot);
  for (std::int64_t j = threadIdx.x; j < n; j += blockDim.x) dr[j] = T(double(pr[j]) * (double(dr[j]) - dot));
}

// bf16: row r of the float32 logits s becomes its softmax in p (bf16), the float path's arithmetic
// (float64 max and sum of the float32 exponentials) rounded once.
__global__ void softmax_rows_bf16_k(std::int64_t n, const float* s, __nv_bfloat16* p) {
  const float* row = s + std::int64_t(blockIdx.x) * n;
  __nv_bfloat16* out = p + std::int64_t(blockIdx.x) * n;
  double mx = -INFINITY;
  for (std::int64_t j = threadIdx.x; j < n; j += blockDim.x) mx = fmax(mx, double(row[j]));
  mx = block_max(mx);
  double sum = 0;
  for (std::int64_t j = threadIdx.x; j < n; j += blockDim.x) sum += double(float(exp(double(row[j]) - mx)));
  const double inv = 1.0 / block_sum(sum);
  for (std::int64_t j = threadIdx.x; j < n; j += blockDim.x)
    out[j] = __float2bfloat16_rn(float(double(float(exp(double(row[j]) - mx))) * inv));
}

// bf16: ds = P ⊙ (dP − rowsum(dP ⊙ P)) from float32 dP, rounded to bf16 for the dQ and dK GEMMs.
__global__ void softmax_grad_rows_bf16_k(std::int64_t n, const __nv_bfloat16* p, const float* dp, __nv_bfloat16* ds) {
  const std::int64_t r = blockIdx.x;
  const __nv_bfloat16* pr = p + r * n;
  const float* dr = dp + r * n;
  double dot = 0;
  for (std::int64_t j = threadIdx.x; j < n; j += blockDim.x) dot += double(dr[j]) * double(__bfloat162float(pr[j]));
  dot = block_sum(dot);
  for (std::int64_t j = threadIdx.x; j < n; j += blockDim.x)
    ds[r * n + j] = __float2bfloat16_rn(float(double(__bfloat162float(pr[j])) * (double(dr[j]) - dot)));
}

// Device scratch, two slots (dS; bf16's float32 logits and its rounded dS).
void* scratch(std::size_t bytes, int slot = 0) {
  static GrowingScratch slots[2];
  return slots[slot].get(bytes);
}

}  // namespace

template <class T>
void attention_forward(std::int64_t batch, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim, const T* qkv,
                       T* probs, T* out) {
  const std::int64_t C = heads * head_dim, N = tokens, ld = 3 * C;
  const T scale = T(1) / std::sqrt(T(head_dim));
  for (std::int64_t b = 0; b < batch; ++b) {
    const T* q = qkv + b * N * ld;
    T* p = probs + b * heads * N * N;
    gemm<T>(false, true, N, N, head_dim, scale, q, ld, q + C, ld, T(0), p, N, heads, head_dim, head_dim, N * N);
  }
  if (batch * heads * N > 0) {
    softmax_rows_k<T><<<unsigned(batch * heads * N), kThreads>>>(N, probs);
    CARNOT_CUDA_CHECK(cudaGetLastError());
  }
  for (std::int64_t b = 0; b < batch; ++b)
    gemm<T>(false, false, N, head_dim, N, T(1), probs + b * heads * N * N, N, qkv + b * N * ld + 2 * C, ld, T(0),
            out + b * N * C, C, heads, N * N, head_dim, head_dim);
}

template <class T>
void attention_backward(std::int64_t batch, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim,
                        const T* qkv, const T* probs, const T* dout, T* dqkv) {
  const std::int64_t C = heads * head_dim, N = tokens, ld = 3 * C;
  const T scale = T(1) / std::sqrt(T(head_dim));
  T* ds = static_cast<T*>(scratch(std::size_t(heads * N * N) * sizeof(T)));
  for (std::int64_t b = 0; b < batch; ++b) {
    const T* q = qkv + b * N * ld;
    const T* p = probs + b * heads * N * N;
    const T* dout_b = dout + b * N * C;
    T* dq = dqkv + b * N * ld;
    gemm<T>(true, false, N, head_dim, N, T(1), p, N, dout_b, C, T(0), dq + 2 * C, ld, heads, N * N, head_dim,
            head_dim);  // dV = Pᵀ dO
    gemm<T>(false, true, N, N, head_dim, T(1), dout_b, C, q + 2 * C, ld, T(0), ds, N, heads, head_dim, head_dim,
            N * N);  // dP = dO Vᵀ
    softmax_grad_rows_k<T><<<unsigned(heads * N), kThreads>>>(N, p, ds);
    CARNOT_CUDA_CHECK(cudaGetLastError());
    gemm<T>(false, false, N, head_dim, N, scale, ds, N, q + C, ld, T(0), dq, ld, heads, N * N, head_dim,
            head_dim);  // dQ = dS K / √D
    gemm<T>(true, false, N, head_dim, N, scale, ds, N, q, ld, T(0), dq + C, ld, heads, N * N, head_dim,
            head_dim);  // dK = dSᵀ Q / √D
  }
}

// bf16: QKᵀ and its gradient dP in float32 (scratch), softmax in float, P and dS rounded to bf16
// for the tensor-core GEMMs PV, dQ = dS K, dK = dSᵀ Q (float32 accumulation); one sample's heads
// per batched GEMM, as the float path.
void attention_forward_bf16(std::int64_t batch, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim,
                            const __nv_bfloat16* qkv, __nv_bfloat16* probs, __nv_bfloat16* out) {
  const std::int64_t C = heads * head_dim, N = tokens, ld = 3 * C;
  const float scale = float(1.0 / std::sqrt(double(head_dim)));
  float* s = static_cast<float*>(scratch(std::size_t(heads * N * N) * sizeof(float), 0));
  for (std::int64_t b = 0; b < batch; ++b) {
    const __nv_bfloat16* q = qkv + b * N * ld;
    __nv_bfloat16* p = probs + b * heads * N * N;
    gemm_bf16(false, true, N, N, head_dim, scale, q, ld, q + C, ld, 0.0f, s, N, true, heads, head_dim, head_dim,
              N * N);
    if (heads * N > 0) {
      softmax_rows_bf16_k<<<unsigned(heads * N), kThreads>>>(N, s, p);
      CARNOT_CUDA_CHECK(cudaGetLastError());
    }
    gemm_bf16(false, false, N, head_dim, N, 1.0f, p, N, q + 2 * C, ld, 0.0f, out + b * N * C, C, false, heads, N * N,
              head_dim, head_dim);
  }
}

void attention_backward_bf16(std::int64_t batch, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim,
                             const __nv_bfloat16* qkv, const __nv_bfloat16* probs, const __nv_bfloat16* dout,
                             __nv_bfloat16* dqkv) {
  const std::int64_t C = heads * head_dim, N = tokens, ld = 3 * C;
  const float scale = float(1.0 / std::sqrt(double(head_dim)));
  float* dp = static_cast<float*>(scratch(std::size_t(heads * N * N) * sizeof(float), 0));
  auto* ds = static_cast<__nv_bfloat16*>(scratch(std::size_t(heads * N * N) * sizeof(__nv_bfloat16), 1));
  for (std::int64_t b = 0; b < batch; ++b) {
    const __nv_bfloat16* q = qkv + b * N * ld;
    const __nv_bfloat16* p = probs + b * heads * N * N;
    const __nv_bfloat16* dout_b = dout + b * N * C;
    __nv_bfloat16* dq = dqkv + b * N * ld;
    gemm_bf16(true, false, N, head_dim, N, 1.0f, p, N, dout_b, C, 0.0f, dq + 2 * C, ld, false, heads, N * N, head_dim,
              head_dim);  // dV = Pᵀ dO
    gemm_bf16(false, true, N, N, head_dim, 1.0f, dout_b, C, q + 2 * C, ld, 0.0f, dp, N, true, heads, head_dim,
              head_dim, N * N);  // dP = dO Vᵀ
    if (heads * N > 0) {
      softmax_grad_rows_bf16_k<<<unsigned(heads * N), kThreads>>>(N, p, dp, ds);
      CARNOT_CUDA_CHECK(cudaGetLastError());
    }
    gemm_bf16(false, false, N, head_dim, N, scale, ds, N, q + C, ld, 0.0f, dq, ld, false, heads, N * N, head_dim,
              head_dim);  // dQ = dS K / √D
    gemm_bf16(true, false, N, head_dim, N, scale, ds, N, q, ld, 0.0f, dq + C, ld, false, heads, N * N, head_dim,
              head_dim);  // dK = dSᵀ Q / √D
  }
}

template void attention_forward<float>(std::int64_t, std::int64_t, std::int64_t, std::int64_t, const float*, float*,
                                       float*);
template void attention_forward<double>(std::int64_t, std::int64_t, std::int64_t, std::int64_t, const double*,
                                        double*, double*);
template void attention_backward<float>(std::int64_t, std::int64_t, std::int64_t, std::int64_t, const float*,
                                        const float*, const float*, float*);
template void attention_backward<double>(std::int64_t, std::int64_t, std::int64_t, std::int64_t, const double*,
                                         const double*, const double*, double*);

}  // namespace carnot::cuda_kernels
