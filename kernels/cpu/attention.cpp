// Multi-head self-attention over DiT's fused qkv projection: qkv[b, n, 3C] holds q, k, v for every
// head (head h's q is columns [h·D, (h+1)·D), k the same plus C, v plus 2C), out[b, n, C] the
// heads side by side. Per (batch, head): S = Q Kᵀ / √D, P = softmax over each row, O = P V — GEMMs on
// strided views, no copies. Forward saves lse_i = log Σ_j e^{S_ij} per row, not P: backward
// recomputes P = e^{S − lse} (FlashAttention's trade, N instead of N² saved per head; in float32
// that P is good to about |lse|·2⁻²⁴ relative, as FlashAttention's), then
//   dV = Pᵀ dO,  dP = dO Vᵀ,  dS = P ⊙ (dP − Δ),  Δ_i = Σ_d dO_id O_id,  dQ = dS K / √D,  dK = dSᵀ Q / √D.
// Δ comes from the saved output as in the fused GPU kernel (it equals rowsum(dP ⊙ P)).
#include <algorithm>
#include <cmath>

#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/kernels.h"

namespace carnot::cpu {

namespace {

// s (rows × n) → P = e^{s − lse} row by row, given lse.
template <class T> void probabilities(std::int64_t rows, std::int64_t n, const T* lse, T* s) {
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < n; ++j) s[i * n + j] = exp_any(s[i * n + j] - lse[i]);
}

}  // namespace

// workspace: N·N elements.
template <class T>
void attention_forward(std::int64_t batch, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim,
                       const T* qkv, T* workspace, T* lse, T* out) {
  const std::int64_t C = heads * head_dim, N = tokens, ld = 3 * C;
  const T scale = T(1) / std::sqrt(T(head_dim));
  T* p = workspace;
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t h = 0; h < heads; ++h) {
      const T* q = qkv + b * N * ld + h * head_dim;
      T* l = lse + (b * heads + h) * N;
      gemm<T>(false, true, N, N, head_dim, scale, q, ld, q + C, ld, T(0), p, N);
      // P from the row's max (exact to rounding however large the logits); lse for backward.
      for (std::int64_t i = 0; i < N; ++i) {
        T* row = p + i * N;
        const T mx = *std::max_element(row, row + N);
        T sum = 0;
        for (std::int64_t j = 0; j < N; ++j) sum += (row[j] = exp_any(row[j] - mx));
        const T inv = T(1) / sum;
        for (std::int64_t j = 0; j < N; ++j) row[j] *= inv;
        l[i] = T(double(mx) + std::log(double(sum)));
      }
      gemm<T>(false, false, N, head_dim, N, T(1), p, N, q + 2 * C, ld, T(0), out + b * N * C + h * head_dim, C);
    }
}

// workspace: 2·N·N elements.
template <class T>
void attention_backward(std::int64_t batch, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim,
                        const T* qkv, const T* lse, const T* out, const T* dout, T* workspace, T* dqkv) {
  const std::int64_t C = heads * head_dim, N = tokens, ld = 3 * C;
  const T scale = T(1) / std::sqrt(T(head_dim));
  T* p = workspace;
  T* ds = workspace + N * N;
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t h = 0; h < heads; ++h) {
      const T* q = qkv + b * N * ld + h * head_dim;
      const T* o = out + b * N * C + h * head_dim;
      const T* dout_bh = dout + b * N * C + h * head_dim;
      T* dq = dqkv + b * N * ld + h * head_dim;
      gemm<T>(false, true, N, N, head_dim, scale, q, ld, q + C, ld, T(0), p, N);
      probabilities(N, N, lse + (b * heads + h) * N, p);
      gemm<T>(true, false, N, head_dim, N, T(1), p, N, dout_bh, C, T(0), dq + 2 * C, ld);  // dV
      gemm<T>(false, true, N, N, head_dim, T(1), dout_bh, C, q + 2 * C, ld, T(0), ds, N);  // dP
      for (std::int64_t i = 0; i < N; ++i) {
        T delta = 0;
        for (std::int64_t d = 0; d < head_dim; ++d) delta += dout_bh[i * C + d] * o[i * C + d];
        for (std::int64_t j = 0; j < N; ++j) ds[i * N + j] = p[i * N + j] * (ds[i * N + j] - delta);
      }
      gemm<T>(false, false, N, head_dim, N, scale, ds, N, q + C, ld, T(0), dq, ld);      // dQ
      gemm<T>(true, false, N, head_dim, N, scale, ds, N, q, ld, T(0), dq + C, ld);       // dK
    }
}

template void attention_forward<float>(std::int64_t, std::int64_t, std::int64_t, std::int64_t, const float*, float*,
                                       float*, float*);
template void attention_forward<double>(std::int64_t, std::int64_t, std::int64_t, std::int64_t, const double*,
                                        double*, double*, double*);
template void attention_backward<float>(std::int64_t, std::int64_t, std::int64_t, std::int64_t, const float*,
                                        const float*, const float*, const float*, float*, float*);
template void attention_backward<double>(std::int64_t, std::int64_t, std::int64_t, std::int64_t, const double*,
                                         const double*, const double*, const double*, double*, double*);

}  // namespace carnot::cpu
