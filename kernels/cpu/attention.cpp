// Multi-head self-attention over DiT's fused qkv projection: qkv[b, n, 3C] holds q, k, v for every
// head (head h's q is columns [h·D, (h+1)·D), k the same plus C, v plus 2C), out[b, n, C] the
// heads side by side. Per (batch, head): S = Q Kᵀ / √D, P = softmax over each row (saved for
// backward), O = P V — three GEMMs on strided views, no copies. Backward:
//   dV = Pᵀ dO,  dP = dO Vᵀ,  dS = P ⊙ (dP − rowsum(dP ⊙ P)),  dQ = dS K / √D,  dK = dSᵀ Q / √D.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/kernels.h"

namespace carnot::cpu {

template <class T>
void attention_forward(std::int64_t batch, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim,
                       const T* qkv, T* probs, T* out) {
  const std::int64_t C = heads * head_dim, N = tokens, ld = 3 * C;
  const T scale = T(1) / std::sqrt(T(head_dim));
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t h = 0; h < heads; ++h) {
      const T* q = qkv + b * N * ld + h * head_dim;
      T* p = probs + (b * heads + h) * N * N;
      gemm<T>(false, true, N, N, head_dim, scale, q, ld, q + C, ld, T(0), p, N);
      for (std::int64_t i = 0; i < N; ++i) {
        T* row = p + i * N;
        const T mx = *std::max_element(row, row + N);
        T sum = 0;
        for (std::int64_t j = 0; j < N; ++j) sum += (row[j] = exp_any(row[j] - mx));
        const T inv = T(1) / sum;
        for (std::int64_t j = 0; j < N; ++j) row[j] *= inv;
      }
      gemm<T>(false, false, N, head_dim, N, T(1), p, N, q + 2 * C, ld, T(0), out + b * N * C + h * head_dim, C);
    }
}

// workspace: N·N elements.
template <class T>
void attention_backward(std::int64_t batch, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim,
                        const T* qkv, const T* probs, const T* dout, T* workspace, T* dqkv) {
  const std::int64_t C = heads * head_dim, N = tokens, ld = 3 * C;
  const T scale = T(1) / std::sqrt(T(head_dim));
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t h = 0; h < heads; ++h) {
      const T* q = qkv + b * N * ld + h * head_dim;
      const T* p = probs + (b * heads + h) * N * N;
      const T* dout_bh = dout + b * N * C + h * head_dim;
      T* dq = dqkv + b * N * ld + h * head_dim;
      T* ds = workspace;
      gemm<T>(true, false, N, head_dim, N, T(1), p, N, dout_bh, C, T(0), dq + 2 * C, ld);  // dV
      gemm<T>(false, true, N, N, head_dim, T(1), dout_bh, C, q + 2 * C, ld, T(0), ds, N);  // dP
      for (std::int64_t i = 0; i < N; ++i) {
        const T* pr = p + i * N;
        T* dr = ds + i * N;
        T dot = 0;
        for (std::int64_t j = 0; j < N; ++j) dot += dr[j] * pr[j];
        for (std::int64_t j = 0; j < N; ++j) dr[j] = pr[j] * (dr[j] - dot);
      }
      gemm<T>(false, false, N, head_dim, N, scale, ds, N, q + C, ld, T(0), dq, ld);      // dQ
      gemm<T>(true, false, N, head_dim, N, scale, ds, N, q, ld, T(0), dq + C, ld);       // dK
    }
}

template void attention_forward<float>(std::int64_t, std::int64_t, std::int64_t, std::int64_t, const float*, float*,
                                       float*);
template void attention_forward<double>(std::int64_t, std::int64_t, std::int64_t, std::int64_t, const double*,
                                        double*, double*);
template void attention_backward<float>(std::int64_t, std::int64_t, std::int64_t, std::int64_t, const float*,
                                        const float*, const float*, float*, float*);
template void attention_backward<double>(std::int64_t, std::int64_t, std::int64_t, std::int64_t, const double*,
                                         const double*, const double*, double*, double*);

}  // namespace carnot::cpu
