// Vectorised bf16 paths for DiT's memory-bound ops (bf16_rows.cuh). Why: these ops move a few
// bytes per FLOP, so they run at the speed their memory traffic is issued. The general kernels
// load one 2-byte value per thread and split each flat index into (sample, column) with 64-bit
// divisions; adaLN there takes a 256-thread block per row of C ≈ 1k values and three block-wide
// barrier trees, so a row's latency, not bandwidth, sets its time. Here: 8 values per 16-byte
// access, one 32-bit division per 8 values, and adaLN one warp a row, the row in registers
// (two-pass statistics in float32 by butterfly shuffles: every lane gets the same bits, and the
// order is fixed, so the results repeat bit for bit).
#include "kernels/cuda/bf16_rows.cuh"

#include <cstdint>
#include <type_traits>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/launch.cuh"

namespace carnot::cuda_kernels {

namespace {

using bf16 = __nv_bfloat16;
constexpr int kVec = 8;                    // bf16 values per 16-byte access
constexpr int kRowsPerBlock = kThreads / 32;  // adaLN: one warp a row
constexpr int kMaxVecsPerLane = 8;         // adaLN rows up to 32 · 8 · 8 = 2048 values

struct Vec {
  float v[kVec];
};

__device__ __forceinline__ Vec load8(const bf16* p) {
  const uint4 u = *reinterpret_cast<const uint4*>(p);
  const auto* h = reinterpret_cast<const __nv_bfloat162*>(&u);
  Vec r;
#pragma unroll
  for (int i = 0; i < kVec / 2; ++i) {
    const float2 f = __bfloat1622float2(h[i]);
    r.v[2 * i] = f.x, r.v[2 * i + 1] = f.y;
  }
  return r;
}

__device__ __forceinline__ void store8(bf16* p, const Vec& r) {
  uint4 u;
  auto* h = reinterpret_cast<__nv_bfloat162*>(&u);
#pragma unroll
  for (int i = 0; i < kVec / 2; ++i) h[i] = __floats2bfloat162_rn(r.v[2 * i], r.v[2 * i + 1]);
  *reinterpret_cast<uint4*>(p) = u;
}

// Every lane gets the same sum: at each step the two lanes of a pair add the same two values.
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

bool aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

// Every pointer 16-byte aligned, and the vector paths on (CARNOT_CUDA_PLAIN=1 turns them off too).
template <class... P> bool all_aligned(const P*... p) { return !plain_kernels_only() && (aligned(p) && ...); }

// The vector shape fits: widths and strides multiples of 8, and 32-bit counts of vectors.
bool vector_rows_fit(std::int64_t rows, std::int64_t cols, std::int64_t mod_stride) {
  return rows > 0 && cols > 0 && cols % kVec == 0 && mod_stride % kVec == 0 &&
         mod_stride < (std::int64_t(1) << 31) && rows * cols / kVec < (std::int64_t(1) << 31);
}

// ---- adaLN: LayerNorm without affine, then x̂ (1 + scale) + shift; one warp a row ----

template <int VPL>
__global__ void __launch_bounds__(kThreads)
    adaln_fwd_rows_k(int rows, int tokens, int cols, float eps, const bf16* x, const bf16* shift, const bf16* scale,
                     int mod_stride, bf16* y, float* mean, float* rstd) {
  const int row = blockIdx.x * kRowsPerBlock + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (row >= rows) return;  // a whole warp
  const int vecs = cols / kVec;
  const bf16* xr = x + std::int64_t(row) * cols;
  Vec xv[VPL];
  float s = 0;
#pragma unroll
  for (int k = 0; k < VPL; ++k)
    if (lane + 32 * k < vecs) {
      xv[k] = load8(xr + kVec * (lane + 32 * k));
#pragma unroll
      for (int i = 0; i < kVec; ++i) s += xv[k].v[i];
    }
  const float mu = warp_sum(s) / float(cols);
  float ss = 0;
#pragma unroll
  for (int k = 0; k < VPL; ++k)
    if (lane + 32 * k < vecs)
#pragma unroll
      for (int i = 0; i < kVec; ++i) ss += (xv[k].v[i] - mu) * (xv[k].v[i] - mu);
  const float inv = rsqrtf(warp_sum(ss) / float(cols) + eps);
  const std::int64_t at = std::int64_t(row / tokens) * mod_stride;
  bf16* yr = y + std::int64_t(row) * cols;
#pragma unroll
  for (int k = 0; k < VPL; ++k) {
    const int c = kVec * (lane + 32 * k);
    if (c >= cols) continue;
    const Vec sc = load8(scale + at + c), sh = load8(shift + at + c);
    Vec out;
#pragma unroll
    for (int i = 0; i < kVec; ++i) out.v[i] = (xv[k].v[i] - mu) * inv * (1.0f + sc.v[i]) + sh.v[i];
    store8(yr + c, out);
  }
  if (lane == 0) mean[row] = mu, rstd[row] = inv;
}

// dx = r (g − mean(g) − x̂ mean(g x̂)), g = dy (1 + scale), or dx += that (Accumulate); dx may be
// dy (each lane reads its values before writing them).
template <int VPL, bool Accumulate>
__global__ void __launch_bounds__(kThreads)
    adaln_dx_rows_k(int rows, int tokens, int cols, const bf16* x, const float* mean, const float* rstd,
                    const bf16* scale, int mod_stride, const bf16* dy, bf16* dx) {
  const int row = blockIdx.x * kRowsPerBlock + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (row >= rows) return;
  const std::int64_t r0 = std::int64_t(row) * cols, at = std::int64_t(row / tokens) * mod_stride;
  const float mu = mean[row], inv = rstd[row];
  Vec xh[VPL], g[VPL];
  float sg = 0, sgx = 0;
#pragma unroll
  for (int k = 0; k < VPL; ++k) {
    const int c = kVec * (lane + 32 * k);
    if (c >= cols) continue;
    xh[k] = load8(x + r0 + c);
    g[k] = load8(dy + r0 + c);
    const Vec sc = load8(scale + at + c);
#pragma unroll
    for (int i = 0; i < kVec; ++i) {
      xh[k].v[i] = (xh[k].v[i] - mu) * inv;
      g[k].v[i] *= 1.0f + sc.v[i];
      sg += g[k].v[i];
      sgx += g[k].v[i] * xh[k].v[i];
    }
  }
  sg = warp_sum(sg) / float(cols);
  sgx = warp_sum(sgx) / float(cols);
#pragma unroll
  for (int k = 0; k < VPL; ++k) {
    const int c = kVec * (lane + 32 * k);
    if (c >= cols) continue;
    Vec out;
    if (Accumulate) out = load8(dx + r0 + c);
#pragma unroll
    for (int i = 0; i < kVec; ++i) out.v[i] = (Accumulate ? out.v[i] : 0.0f) + inv * (g[k].v[i] - sg - xh[k].v[i] * sgx);
    store8(dx + r0 + c, out);
  }
}

// Rows a launch of one warp a row takes, and the vectors per lane it needs (1…8), or 0.
int adaln_vectors_per_lane(std::int64_t rows, std::int64_t cols, std::int64_t mod_stride) {
  if (!vector_rows_fit(rows, cols, mod_stride)) return 0;  // and so rows < 2³¹
  const std::int64_t per_lane = (cols / kVec + 31) / 32;
  return per_lane <= kMaxVecsPerLane ? int(per_lane) : 0;
}

// ---- per-(sample, column) gates, and flat vectors ----

// y = x + gate·h; vector i of the flat [rows, cols] lies in row i / (cols/8), sample row / tokens.
__global__ void gated_fwd_rows_k(unsigned vectors, unsigned row_vecs, unsigned tokens, const bf16* x, const bf16* h,
                                 const bf16* gate, int mod_stride, bf16* y) {
  CARNOT_GRID_STRIDE(i, vectors) {
    const unsigned u = unsigned(i), row = u / row_vecs, c = (u - row * row_vecs) * kVec;
    const Vec g = load8(gate + std::int64_t(row / tokens) * mod_stride + c), hv = load8(h + std::int64_t(u) * kVec);
    Vec yv = load8(x + std::int64_t(u) * kVec);
#pragma unroll
    for (int k = 0; k < kVec; ++k) yv.v[k] += g.v[k] * hv.v[k];
    store8(y + std::int64_t(u) * kVec, yv);
  }
}

__global__ void gated_dh_rows_k(unsigned vectors, unsigned row_vecs, unsigned tokens, const bf16* gate, int mod_stride,
                                const bf16* dy, bf16* dh) {
  CARNOT_GRID_STRIDE(i, vectors) {
    const unsigned u = unsigned(i), row = u / row_vecs, c = (u - row * row_vecs) * kVec;
    const Vec g = load8(gate + std::int64_t(row / tokens) * mod_stride + c);
    Vec d = load8(dy + std::int64_t(u) * kVec);
#pragma unroll
    for (int k = 0; k < kVec; ++k) d.v[k] *= g.v[k];
    store8(dh + std::int64_t(u) * kVec, d);
  }
}

__global__ void accumulate_rows_k(std::int64_t vectors, const bf16* x, bf16* y) {
  CARNOT_GRID_STRIDE(i, vectors) {
    const Vec a = load8(x + i * kVec);
    Vec b = load8(y + i * kVec);
#pragma unroll
    for (int k = 0; k < kVec; ++k) b.v[k] += a.v[k];
    store8(y + i * kVec, b);
  }
}

// GELU, tanh form, as elementwise.cu's gelu_fwd_k.
__global__ void gelu_fwd_rows_k(std::int64_t vectors, const bf16* x, bf16* y) {
  CARNOT_GRID_STRIDE(i, vectors) {
    Vec v = load8(x + i * kVec);
#pragma unroll
    for (int k = 0; k < kVec; ++k) {
      const float a = v.v[k];
      v.v[k] = 0.5f * a * (1.0f + tanhf(0.7978845608028654f * (a + 0.044715f * a * a * a)));
    }
    store8(y + i * kVec, v);
  }
}

// dst[b, k] += src[b, k]: vector i is block i / (block/8).
__global__ void accumulate_blocks_rows_k(unsigned vectors, unsigned block_vecs, const bf16* src,
                                         std::int64_t src_stride, bf16* dst, std::int64_t dst_stride) {
  CARNOT_GRID_STRIDE(i, vectors) {
    const unsigned u = unsigned(i), b = u / block_vecs, k = (u - b * block_vecs) * kVec;
    const Vec a = load8(src + b * src_stride + k);
    Vec d = load8(dst + b * dst_stride + k);
#pragma unroll
    for (int j = 0; j < kVec; ++j) d.v[j] += a.v[j];
    store8(dst + b * dst_stride + k, d);
  }
}

// ---- per-(sample, column) sums over the tokens: adaLN's dshift, dscale and the gate's gradient ----

constexpr int kColumnsPerBlock = 32 * kVec;  // a lane's 8 columns; the 8 warps split the tokens

// dshift = Σ_n dy and dscale = Σ_n dy x̂ (Adaln), or dgate = Σ_n dy h (the gate, into `first`), for
// the sample blockIdx.y and 256 columns: warp w adds tokens w, w + 8, … in order, then lane l of
// warp 0 adds the 8 warps' sums in warp order (fixed: the sums repeat bit for bit).
template <bool Adaln>
__global__ void __launch_bounds__(kThreads)
    token_sums_rows_k(int tokens, int cols, const bf16* a, const float* mean, const float* rstd, int mod_stride,
                      const bf16* dy, bf16* first, bf16* second) {
  constexpr int kOut = Adaln ? 2 : 1;
  __shared__ float partial[kRowsPerBlock][kOut][kColumnsPerBlock];
  const int b = blockIdx.y, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int c = blockIdx.x * kColumnsPerBlock + kVec * lane;
  float s0[kVec] = {}, s1[kVec] = {};
  if (c < cols)
    for (int n = warp; n < tokens; n += kRowsPerBlock) {
      const std::int64_t row = std::int64_t(b) * tokens + n, at = row * cols + c;
      const Vec g = load8(dy + at), v = load8(a + at);
      const float mu = Adaln ? mean[row] : 0.0f, inv = Adaln ? rstd[row] : 0.0f;
#pragma unroll
      for (int i = 0; i < kVec; ++i) {
        if (Adaln) {
          s0[i] += g.v[i];
          s1[i] += g.v[i] * ((v.v[i] - mu) * inv);
        } else {
          s0[i] += g.v[i] * v.v[i];
        }
      }
    }
#pragma unroll
  for (int i = 0; i < kVec; ++i) {
    partial[warp][0][kVec * lane + i] = s0[i];
    if (Adaln) partial[warp][kOut - 1][kVec * lane + i] = s1[i];
  }
  __syncthreads();
  if (warp != 0 || c >= cols) return;
  for (int k = 0; k < kOut; ++k) {
    Vec sum;
#pragma unroll
    for (int i = 0; i < kVec; ++i) {
      float t = 0;
      for (int w = 0; w < kRowsPerBlock; ++w) t += partial[w][k][kVec * lane + i];
      sum.v[i] = t;
    }
    store8((k == 0 ? first : second) + std::int64_t(b) * mod_stride + c, sum);
  }
}

bool token_sums_fit(std::int64_t batch, std::int64_t tokens, std::int64_t cols, std::int64_t mod_stride) {
  return batch > 0 && batch <= 65535 && tokens > 0 && vector_rows_fit(batch * tokens, cols, mod_stride);
}

// bias_grad's first stage: partial[chunk, c] = Σ dy[r, c] over the chunk's rows in order, a
// thread per (chunk, 8 columns) with 16-byte loads (the general kernel's order per column).
__global__ void bias_grad_partial_rows_k(unsigned vectors, std::int64_t rows, unsigned groups, std::int64_t chunk_rows,
                                         const bf16* dy, float* partial) {
  const std::int64_t cols = std::int64_t(groups) * kVec;
  CARNOT_GRID_STRIDE(i, std::int64_t(vectors)) {
    const std::int64_t chunk = i / groups, c = i % groups * kVec, end = min(rows, (chunk + 1) * chunk_rows);
    float s[kVec] = {};
#pragma unroll 4
    for (std::int64_t r = chunk * chunk_rows; r < end; ++r) {
      const Vec v = load8(dy + r * cols + c);
#pragma unroll
      for (int k = 0; k < kVec; ++k) s[k] += v.v[k];
    }
    float* out = partial + chunk * cols + c;
#pragma unroll
    for (int k = 0; k < kVec; ++k) out[k] = s[k];
  }
}

}  // namespace

bool adaln_dparams_bf16_rows(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const bf16* x,
                             const float* mean, const float* rstd, std::int64_t mod_stride, const bf16* dy,
                             bf16* dshift, bf16* dscale) {
  if (!token_sums_fit(batch, tokens, cols, mod_stride) || !all_aligned(x, dy, dshift, dscale)) return false;
  const dim3 grid(unsigned((cols + kColumnsPerBlock - 1) / kColumnsPerBlock), unsigned(batch));
  token_sums_rows_k<true><<<grid, kThreads>>>(int(tokens), int(cols), x, mean, rstd, int(mod_stride), dy, dshift,
                                              dscale);
  CARNOT_CUDA_CHECK(cudaGetLastError());
  return true;
}

bool gated_dgate_bf16_rows(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const bf16* h,
                           std::int64_t mod_stride, const bf16* dy, bf16* dgate) {
  if (!token_sums_fit(batch, tokens, cols, mod_stride) || !all_aligned(h, dy, dgate)) return false;
  const dim3 grid(unsigned((cols + kColumnsPerBlock - 1) / kColumnsPerBlock), unsigned(batch));
  token_sums_rows_k<false><<<grid, kThreads>>>(int(tokens), int(cols), h, nullptr, nullptr, int(mod_stride), dy, dgate,
                                               nullptr);
  CARNOT_CUDA_CHECK(cudaGetLastError());
  return true;
}

bool adaln_forward_bf16_rows(std::int64_t batch, std::int64_t tokens, std::int64_t cols, double eps, const bf16* x,
                             const bf16* shift, const bf16* scale, std::int64_t mod_stride, bf16* y, float* mean,
                             float* rstd) {
  const std::int64_t rows = batch * tokens;
  const int per_lane = adaln_vectors_per_lane(rows, cols, mod_stride);
  if (per_lane == 0 || !all_aligned(x, shift, scale, y)) return false;
  const unsigned blocks = unsigned((rows + kRowsPerBlock - 1) / kRowsPerBlock);
  with_constant_1_to_8(per_lane, [&](auto vpl) {
    adaln_fwd_rows_k<decltype(vpl)::value><<<blocks, kThreads>>>(int(rows), int(tokens), int(cols), float(eps), x,
                                                                 shift, scale, int(mod_stride), y, mean, rstd);
  });
  CARNOT_CUDA_CHECK(cudaGetLastError());
  return true;
}

bool adaln_dx_bf16_rows(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const bf16* x, const float* mean,
                        const float* rstd, const bf16* scale, std::int64_t mod_stride, const bf16* dy, bf16* dx,
                        bool accumulate_dx) {
  const std::int64_t rows = batch * tokens;
  const int per_lane = adaln_vectors_per_lane(rows, cols, mod_stride);
  if (per_lane == 0 || !all_aligned(x, scale, dy, dx)) return false;
  const unsigned blocks = unsigned((rows + kRowsPerBlock - 1) / kRowsPerBlock);
  with_constant_1_to_8(per_lane, [&](auto vpl) {
    constexpr int VPL = decltype(vpl)::value;
    auto kernel = accumulate_dx ? adaln_dx_rows_k<VPL, true> : adaln_dx_rows_k<VPL, false>;
    kernel<<<blocks, kThreads>>>(int(rows), int(tokens), int(cols), x, mean, rstd, scale, int(mod_stride), dy, dx);
  });
  CARNOT_CUDA_CHECK(cudaGetLastError());
  return true;
}

bool gated_forward_bf16_rows(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const bf16* x,
                             const bf16* h, const bf16* gate, std::int64_t mod_stride, bf16* y) {
  const std::int64_t rows = batch * tokens;
  if (!vector_rows_fit(rows, cols, mod_stride) || !all_aligned(x, h, gate, y)) return false;
  const std::int64_t vectors = rows * cols / kVec;
  gated_fwd_rows_k<<<blocks_for(vectors), kThreads>>>(unsigned(vectors), unsigned(cols / kVec), unsigned(tokens),
                                                      x, h, gate, int(mod_stride), y);
  CARNOT_CUDA_CHECK(cudaGetLastError());
  return true;
}

bool gated_dh_bf16_rows(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const bf16* gate,
                        std::int64_t mod_stride, const bf16* dy, bf16* dh) {
  const std::int64_t rows = batch * tokens;
  if (!vector_rows_fit(rows, cols, mod_stride) || !all_aligned(gate, dy, dh)) return false;
  const std::int64_t vectors = rows * cols / kVec;
  gated_dh_rows_k<<<blocks_for(vectors), kThreads>>>(unsigned(vectors), unsigned(cols / kVec), unsigned(tokens),
                                                        gate, int(mod_stride), dy, dh);
  CARNOT_CUDA_CHECK(cudaGetLastError());
  return true;
}

bool accumulate_bf16_rows(std::int64_t n, const bf16* x, bf16* y) {
  if (n <= 0 || n % kVec != 0 || !all_aligned(x, y)) return false;
  accumulate_rows_k<<<blocks_for(n / kVec), kThreads>>>(n / kVec, x, y);
  CARNOT_CUDA_CHECK(cudaGetLastError());
  return true;
}

bool gelu_forward_bf16_rows(std::int64_t n, const bf16* x, bf16* y) {
  if (n <= 0 || n % kVec != 0 || !all_aligned(x, y)) return false;
  gelu_fwd_rows_k<<<blocks_for(n / kVec), kThreads>>>(n / kVec, x, y);
  CARNOT_CUDA_CHECK(cudaGetLastError());
  return true;
}

bool accumulate_blocks_bf16_rows(std::int64_t count, std::int64_t block, const bf16* src, std::int64_t src_stride,
                                 bf16* dst, std::int64_t dst_stride) {
  if (count <= 0 || block <= 0 || block % kVec != 0 || src_stride % kVec != 0 || dst_stride % kVec != 0 ||
      count * block / kVec >= (std::int64_t(1) << 31) || !all_aligned(src, dst))
    return false;
  const std::int64_t vectors = count * block / kVec;
  accumulate_blocks_rows_k<<<blocks_for(vectors), kThreads>>>(unsigned(vectors), unsigned(block / kVec), src,
                                                              src_stride, dst, dst_stride);
  CARNOT_CUDA_CHECK(cudaGetLastError());
  return true;
}

bool bias_grad_partial_bf16_rows(std::int64_t rows, std::int64_t cols, std::int64_t chunk_rows, const bf16* dy,
                                 float* partial) {
  if (rows <= 0 || !vector_rows_fit(rows, cols, kVec) || !all_aligned(dy)) return false;
  const std::int64_t vectors = (rows + chunk_rows - 1) / chunk_rows * (cols / kVec);
  if (vectors >= (std::int64_t(1) << 31)) return false;
  bias_grad_partial_rows_k<<<blocks_for(vectors), kThreads>>>(unsigned(vectors), rows, unsigned(cols / kVec),
                                                              chunk_rows, dy, partial);
  CARNOT_CUDA_CHECK(cudaGetLastError());
  return true;
}

}  // namespace carnot::cuda_kernels
