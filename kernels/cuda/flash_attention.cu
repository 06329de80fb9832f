// FlashAttention-style fused multi-head attention on bf16 (Dao et al. 2022, FA2's loop order) with
// the tensor cores through WMMA: 16×16×16 bf16 tiles, float32 accumulation. The probabilities never
// reach global memory; forward saves each row's log-sum-exp and backward recomputes P from it.
//
// Forward: a block owns 64 queries of one (sample, head), four warps of 16 rows; it streams 64-key
// tiles of K and V through shared memory. Per tile and warp: S = Q Kᵀ (WMMA, stored to shared
// memory), the online softmax (two lanes a row, 32 columns each, visited in a skewed order so the
// 32 lanes hit 32 different banks), P rounded to bf16, O ← O·e^{m_old − m_new} + P V with O a
// float32 accumulator in shared memory. At the end O/l and lse = m + log l.
//
// Backward is deterministic (no atomics): a dK/dV kernel (a block owns 64 keys and walks every
// query tile) and a dQ kernel (a block owns 64 queries and walks every key tile), each computing
// its own S and dP — 10·N²·D FLOPs per head against FA2's 8·N²·D with atomic dQ, the price of
// bitwise repeatable gradients. Δ = rowsum(dO ⊙ O) comes first, from a small kernel.
//
// Cost per (sample, head), N tokens, head dim D (DiT-XL/2: N = 256, D = 72): forward 4N²D FLOPs
// (19 M) over 8·N·D bytes (0.15 MB): compute-bound, where the materialised path also writes and
// reads N² logits and probabilities (~0.8 MB). Head dims are padded to a multiple of 16 with zeros
// in shared memory (72 → 80), so D = 72 does 11% more tensor-core work than it needs.
#include "kernels/cuda/flash_attention.cuh"

#include <mma.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/launch.cuh"

namespace carnot::cuda_kernels {

namespace {

namespace wmma = nvcuda::wmma;
using bf16 = __nv_bfloat16;

constexpr int kTile = 64;                 // rows a block owns, and columns of each inner tile
constexpr int kWarps = kTile / 16;        // each warp owns 16 of the block's rows
constexpr int kFlashThreads = 32 * kWarps;
constexpr int kMaxHeadDim = 128;
constexpr int kMaxFrags = kMaxHeadDim / 16;
constexpr int kTileFrags = kTile / 16;
constexpr float kLog2e = 1.4426950408889634f;

using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major>;
using FragBt = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major>;  // Xᵀ of a row-major X
using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

// Hands out consecutive 128-byte aligned arrays of the dynamic shared memory; from base 0 on the
// host it measures the size, so the launch and the kernel carve the same layout.
struct Carve {
  std::uintptr_t base;
  std::size_t used = 0;
  template <class T> __host__ __device__ T* take(std::size_t n) {
    T* p = reinterpret_cast<T*>(base + used);
    used += (n * sizeof(T) + 127) / 128 * 128;
    return p;
  }
};

struct ForwardSmem {
  bf16 *q, *k, *v, *p;     // [64][DP] tiles; P [warps][16][64]
  float *s, *o, *m, *l, *alpha;  // S [warps][16][64], O [warps][16][DP], per-row state [warps][16]
};
__host__ __device__ inline std::size_t forward_smem(std::uintptr_t base, int dp, ForwardSmem& f) {
  Carve c{base};
  f.q = c.take<bf16>(kTile * dp), f.k = c.take<bf16>(kTile * dp), f.v = c.take<bf16>(kTile * dp);
  f.p = c.take<bf16>(kWarps * 16 * kTile);
  f.s = c.take<float>(kWarps * 16 * kTile), f.o = c.take<float>(kWarps * 16 * dp);
  f.m = c.take<float>(kTile), f.l = c.take<float>(kTile), f.alpha = c.take<float>(kTile);
  return c.used;
}

// Backward's kernels: the block's own 64 rows (keys for dK/dV, queries for dQ) first sit as two bf16
// tiles in `acc` (the float accumulators' space, which is exactly as large) until each warp holds
// its rows in registers; then the other side's tiles stream through a and b.
struct BackwardSmem {
  bf16 *a, *b, *p, *ds;      // streamed [64][DP] tiles; P and dS [warps][16][64]
  float *s, *dp, *acc, *lse, *delta;  // S and dP [warps][16][64]; accumulators [2][warps][16][DP]; [64]
};
__host__ __device__ inline std::size_t backward_smem(std::uintptr_t base, int dp, int accumulators, BackwardSmem& f) {
  Carve c{base};
  f.a = c.take<bf16>(kTile * dp), f.b = c.take<bf16>(kTile * dp);
  f.p = c.take<bf16>(kWarps * 16 * kTile), f.ds = c.take<bf16>(kWarps * 16 * kTile);
  f.s = c.take<float>(kWarps * 16 * kTile), f.dp = c.take<float>(kWarps * 16 * kTile);
  f.acc = c.take<float>(std::size_t(accumulators) * kWarps * 16 * dp);
  f.lse = c.take<float>(kTile), f.delta = c.take<float>(kTile);
  return c.used;
}

// Rows [first, first + 64) of a row-major matrix (rows `stride` apart, D columns used) into
// dst[64][dp], zero past the last token and past D, in 16-byte vectors (D % 8 == 0, src aligned).
__device__ void load_tile(bf16* dst, int dp, const bf16* src, std::int64_t stride, int first, int n, int d) {
  const int chunks = dp / 8;
  for (int c = threadIdx.x; c < kTile * chunks; c += kFlashThreads) {
    const int r = c / chunks, col = (c % chunks) * 8;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (first + r < n && col < d) v = *reinterpret_cast<const uint4*>(src + std::int64_t(first + r) * stride + col);
    *reinterpret_cast<uint4*>(dst + r * dp + col) = v;
  }
}

__device__ void load_rows(float* dst, const float* src, int first, int n, float pad) {
  for (int r = threadIdx.x; r < kTile; r += kFlashThreads) dst[r] = first + r < n ? src[first + r] : pad;
}

// This warp's 16 rows of a [64][dp] tile as matrix_a fragments (nk = dp/16 of them).
__device__ void load_rows_a(FragA (&f)[kMaxFrags], const bf16* tile, int warp, int dp) {
#pragma unroll
  for (int kk = 0; kk < kMaxFrags; ++kk)
    if (kk < dp / 16) wmma::load_matrix_sync(f[kk], tile + warp * 16 * dp + kk * 16, dp);
}

// out[16][64] = rows · tileᵀ: this warp's 16 rows (fragments) against the tile's 64 rows.
__device__ void rows_times_tile_t(float* out, const FragA (&rows)[kMaxFrags], const bf16* tile, int dp) {
#pragma unroll
  for (int j = 0; j < kTileFrags; ++j) {
    FragC acc;
    wmma::fill_fragment(acc, 0.0f);
#pragma unroll
    for (int kk = 0; kk < kMaxFrags; ++kk)
      if (kk < dp / 16) {
        FragBt b;
        wmma::load_matrix_sync(b, tile + j * 16 * dp + kk * 16, dp);
        wmma::mma_sync(acc, rows[kk], b, acc);
      }
    wmma::store_matrix_sync(out + j * 16, acc, kTile, wmma::mem_row_major);
  }
}

// acc[16][dp] += w[16][64] · tile[64][dp] (w bf16 in shared memory, acc float in shared memory).
__device__ void accumulate_w_tile(float* acc, const bf16* w, const bf16* tile, int dp) {
  FragA wa[kTileFrags];
#pragma unroll
  for (int kk = 0; kk < kTileFrags; ++kk) wmma::load_matrix_sync(wa[kk], w + kk * 16, kTile);
#pragma unroll
  for (int n = 0; n < kMaxFrags; ++n)
    if (n < dp / 16) {
      FragC c;
      wmma::load_matrix_sync(c, acc + n * 16, dp, wmma::mem_row_major);
#pragma unroll
      for (int kk = 0; kk < kTileFrags; ++kk) {
        FragB b;
        wmma::load_matrix_sync(b, tile + kk * 16 * dp + n * 16, dp);
        wmma::mma_sync(c, wa[kk], b, c);
      }
      wmma::store_matrix_sync(acc + n * 16, c, dp, wmma::mem_row_major);
    }
}

// Writes rows [first, first + 16) of a [16][dp] float accumulator, times `scale`, as bf16 into a
// row-major matrix (rows `stride` apart), rows < n and columns < d only.
__device__ void store_rows(bf16* dst, std::int64_t stride, const float* acc, int dp, int first, int n, int d,
                           float scale, int lane) {
  for (int i = lane; i < 16 * d; i += 32) {
    const int r = i / d, col = i % d;
    if (first + r < n) dst[std::int64_t(first + r) * stride + col] = __float2bfloat16_rn(acc[r * dp + col] * scale);
  }
}

// Where a block works: its (sample, head) bh, the first of its 64 rows, the thread's warp and lane,
// and the head's first column in qkv (rows ld = 3C apart) and in out and dout (rows C apart).
struct HeadTile {
  int bh, first, warp, lane;
  std::int64_t C, ld, qkv_at, out_at;
  __device__ HeadTile(int n, int heads, int d) {
    const int tiles = (n + kTile - 1) / kTile;
    bh = blockIdx.x / tiles, first = (blockIdx.x % tiles) * kTile;
    warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int b = bh / heads, h = bh % heads;
    C = std::int64_t(heads) * d, ld = 3 * C;
    qkv_at = std::int64_t(b) * n * ld + h * d, out_at = std::int64_t(b) * n * C + h * d;
  }
};

// The column a lane visits at step c of a 32-column half-row: skewed, so that lanes of the same
// half (different rows 64 floats apart) read different banks.
__device__ __forceinline__ int skewed(int c, int lane) { return (lane / 16) * 32 + (c + lane) % 32; }

__global__ void __launch_bounds__(kFlashThreads)
    flash_forward_k(const bf16* qkv, float* lse, bf16* out, int n, int heads, int d, int dp, float scale) {
  extern __shared__ __align__(128) unsigned char smem[];
  ForwardSmem f;
  forward_smem(reinterpret_cast<std::uintptr_t>(smem), dp, f);
  const HeadTile t(n, heads, d);
  const int bh = t.bh, q0 = t.first, warp = t.warp, lane = t.lane;
  const std::int64_t C = t.C, ld = t.ld;
  const bf16* q_g = qkv + t.qkv_at;
  float *s_w = f.s + warp * 16 * kTile, *o_w = f.o + warp * 16 * dp;
  float *m_w = f.m + warp * 16, *l_w = f.l + warp * 16, *alpha_w = f.alpha + warp * 16;
  bf16* p_w = f.p + warp * 16 * kTile;
  const float scale_log2 = scale * kLog2e;

  load_tile(f.q, dp, q_g, ld, q0, n, d);
  for (int i = lane; i < 16 * dp; i += 32) o_w[i] = 0;
  if (lane < 16) m_w[lane] = -INFINITY, l_w[lane] = 0;
  __syncthreads();
  FragA qa[kMaxFrags];
  load_rows_a(qa, f.q, warp, dp);

  for (int k0 = 0; k0 < n; k0 += kTile) {
    __syncthreads();  // every warp is done with the previous K and V
    load_tile(f.k, dp, q_g + C, ld, k0, n, d);
    load_tile(f.v, dp, q_g + 2 * C, ld, k0, n, d);
    __syncthreads();
    rows_times_tile_t(s_w, qa, f.k, dp);  // S = Q Kᵀ (unscaled)
    __syncwarp();
    // Online softmax in units of the unscaled logits: lanes r and r + 16 share row r.
    const int r = lane % 16;
    const float* s_row = s_w + r * kTile;
    float mx = -INFINITY;
    for (int c = 0; c < 32; ++c) {
      const int j = skewed(c, lane);
      if (k0 + j < n) mx = fmaxf(mx, s_row[j]);
    }
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 16));
    const float m_old = m_w[r], m_new = fmaxf(m_old, mx);  // finite: the first tile has key 0
    float sum = 0;
    for (int c = 0; c < 32; ++c) {
      const int j = skewed(c, lane);
      const float p = k0 + j < n ? exp2f((s_row[j] - m_new) * scale_log2) : 0.0f;
      p_w[r * kTile + j] = __float2bfloat16_rn(p);
      sum += p;
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 16);
    __syncwarp();  // both lanes of a row have read m_old
    if (lane < 16) {
      const float alpha = exp2f((m_old - m_new) * scale_log2);
      alpha_w[r] = alpha, l_w[r] = l_w[r] * alpha + sum, m_w[r] = m_new;
    }
    __syncwarp();
    for (int i = lane; i < 16 * dp; i += 32) o_w[i] *= alpha_w[i / dp];
    __syncwarp();
    accumulate_w_tile(o_w, p_w, f.v, dp);  // O += P V
    __syncwarp();
  }
  for (int i = lane; i < 16 * dp; i += 32) o_w[i] /= l_w[i / dp];
  __syncwarp();
  store_rows(out + t.out_at, C, o_w, dp, q0 + warp * 16, n, d, 1.0f, lane);
  if (lane < 16 && q0 + warp * 16 + lane < n)
    lse[std::int64_t(bh) * n + q0 + warp * 16 + lane] = m_w[lane] * scale + logf(l_w[lane]);
}

// Δ[b, h, i] = Σ_d dO·O over head h's columns, one warp a row.
__global__ void flash_delta_k(const bf16* out, const bf16* dout, float* delta, std::int64_t rows, int n, int heads,
                              int d) {
  const std::int64_t row = (std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;  // whole warps
  const std::int64_t bh = row / n, i = row % n, b = bh / heads, h = bh % heads, C = std::int64_t(heads) * d;
  const std::int64_t off = (b * n + i) * C + h * d;
  float s = 0;
  for (int k = lane; k < d; k += 32) s += __bfloat162float(out[off + k]) * __bfloat162float(dout[off + k]);
  for (int o = 16; o > 0; o /= 2) s += __shfl_xor_sync(0xffffffffu, s, o);
  if (lane == 0) delta[row] = s;
}

// dK and dV for 64 keys: for each query tile, Sᵀ = K Qᵀ, dPᵀ = V dOᵀ, Pᵀ = e^{Sᵀ·scale − lse},
// dSᵀ = Pᵀ ⊙ (dPᵀ − Δ), dV += Pᵀ dO, dK += dSᵀ Q; dK is scaled once at the end.
__global__ void __launch_bounds__(kFlashThreads)
    flash_dkv_k(const bf16* qkv, const float* lse, const float* delta, const bf16* dout, bf16* dqkv, int n, int heads,
                int d, int dp, float scale) {
  extern __shared__ __align__(128) unsigned char smem[];
  BackwardSmem f;
  backward_smem(reinterpret_cast<std::uintptr_t>(smem), dp, 2, f);
  const HeadTile t(n, heads, d);
  const int bh = t.bh, k0 = t.first, warp = t.warp, lane = t.lane;
  const std::int64_t C = t.C, ld = t.ld;
  const bf16* q_g = qkv + t.qkv_at;
  const bf16* do_g = dout + t.out_at;
  float *s_w = f.s + warp * 16 * kTile, *dp_w = f.dp + warp * 16 * kTile;
  float *dk_w = f.acc + warp * 16 * dp, *dv_w = f.acc + (kWarps + warp) * 16 * dp;
  bf16 *p_w = f.p + warp * 16 * kTile, *ds_w = f.ds + warp * 16 * kTile;
  const float scale_log2 = scale * kLog2e;

  bf16* own = reinterpret_cast<bf16*>(f.acc);  // K then V of the block's keys, until in registers
  load_tile(own, dp, q_g + C, ld, k0, n, d);
  load_tile(own + kTile * dp, dp, q_g + 2 * C, ld, k0, n, d);
  __syncthreads();
  FragA ka[kMaxFrags], va[kMaxFrags];
  load_rows_a(ka, own, warp, dp);
  load_rows_a(va, own + kTile * dp, warp, dp);
  __syncthreads();
  for (int i = lane; i < 16 * dp; i += 32) dk_w[i] = 0, dv_w[i] = 0;

  for (int q0 = 0; q0 < n; q0 += kTile) {
    __syncthreads();
    load_tile(f.a, dp, q_g, ld, q0, n, d);  // Q
    load_tile(f.b, dp, do_g, C, q0, n, d);  // dO
    load_rows(f.lse, lse + std::int64_t(bh) * n, q0, n, INFINITY);  // padded queries get P = 0
    load_rows(f.delta, delta + std::int64_t(bh) * n, q0, n, 0.0f);
    __syncthreads();
    rows_times_tile_t(s_w, ka, f.a, dp);   // Sᵀ = K Qᵀ
    rows_times_tile_t(dp_w, va, f.b, dp);  // dPᵀ = V dOᵀ
    __syncwarp();
    const int r = lane % 16;  // this lane's key row; columns are queries
    for (int c = 0; c < 32; ++c) {
      const int j = skewed(c, lane);
      const float p = exp2f(s_w[r * kTile + j] * scale_log2 - f.lse[j] * kLog2e);
      p_w[r * kTile + j] = __float2bfloat16_rn(p);
      ds_w[r * kTile + j] = __float2bfloat16_rn(p * (dp_w[r * kTile + j] - f.delta[j]));
    }
    __syncwarp();
    accumulate_w_tile(dv_w, p_w, f.b, dp);   // dV += Pᵀ dO
    accumulate_w_tile(dk_w, ds_w, f.a, dp);  // dK += dSᵀ Q
    __syncwarp();
  }
  bf16* dk_g = dqkv + t.qkv_at + C;
  store_rows(dk_g, ld, dk_w, dp, k0 + warp * 16, n, d, scale, lane);
  store_rows(dk_g + C, ld, dv_w, dp, k0 + warp * 16, n, d, 1.0f, lane);
}

// dQ for 64 queries: for each key tile, S = Q Kᵀ, dP = dO Vᵀ, P = e^{S·scale − lse} (zero past the
// last key), dS = P ⊙ (dP − Δ), dQ += dS K; scaled once at the end.
__global__ void __launch_bounds__(kFlashThreads)
    flash_dq_k(const bf16* qkv, const float* lse, const float* delta, const bf16* dout, bf16* dqkv, int n, int heads,
               int d, int dp, float scale) {
  extern __shared__ __align__(128) unsigned char smem[];
  BackwardSmem f;
  backward_smem(reinterpret_cast<std::uintptr_t>(smem), dp, 1, f);
  const HeadTile t(n, heads, d);
  const int bh = t.bh, q0 = t.first, warp = t.warp, lane = t.lane;
  const std::int64_t C = t.C, ld = t.ld;
  const bf16* q_g = qkv + t.qkv_at;
  float *s_w = f.s + warp * 16 * kTile, *dp_w = f.dp + warp * 16 * kTile, *dq_w = f.acc + warp * 16 * dp;
  bf16* ds_w = f.ds + warp * 16 * kTile;
  const float scale_log2 = scale * kLog2e;

  bf16* own = reinterpret_cast<bf16*>(f.acc);  // Q then dO of the block's queries, until in registers
  load_tile(own, dp, q_g, ld, q0, n, d);
  load_tile(own + kTile * dp, dp, dout + t.out_at, C, q0, n, d);
  load_rows(f.lse, lse + std::int64_t(bh) * n, q0, n, INFINITY);
  load_rows(f.delta, delta + std::int64_t(bh) * n, q0, n, 0.0f);
  __syncthreads();
  FragA qa[kMaxFrags], oa[kMaxFrags];
  load_rows_a(qa, own, warp, dp);
  load_rows_a(oa, own + kTile * dp, warp, dp);
  __syncthreads();
  for (int i = lane; i < 16 * dp; i += 32) dq_w[i] = 0;
  const int r = lane % 16;  // this lane's query row; columns are keys
  const float lse_row = f.lse[warp * 16 + r] * kLog2e, delta_row = f.delta[warp * 16 + r];

  for (int k0 = 0; k0 < n; k0 += kTile) {
    __syncthreads();
    load_tile(f.a, dp, q_g + C, ld, k0, n, d);      // K
    load_tile(f.b, dp, q_g + 2 * C, ld, k0, n, d);  // V
    __syncthreads();
    rows_times_tile_t(s_w, qa, f.a, dp);   // S = Q Kᵀ
    rows_times_tile_t(dp_w, oa, f.b, dp);  // dP = dO Vᵀ
    __syncwarp();
    for (int c = 0; c < 32; ++c) {
      const int j = skewed(c, lane);
      const float p = k0 + j < n ? exp2f(s_w[r * kTile + j] * scale_log2 - lse_row) : 0.0f;
      ds_w[r * kTile + j] = __float2bfloat16_rn(p * (dp_w[r * kTile + j] - delta_row));
    }
    __syncwarp();
    accumulate_w_tile(dq_w, ds_w, f.a, dp);  // dQ += dS K
    __syncwarp();
  }
  store_rows(dqkv + t.qkv_at, ld, dq_w, dp, q0 + warp * 16, n, d, scale, lane);
}

int padded(std::int64_t head_dim) { return int((head_dim + 15) / 16 * 16); }

// Blocks for a launch over (batch, heads, 64-row tiles), refused past what one grid holds.
unsigned flash_blocks(std::int64_t batch, std::int64_t tokens, std::int64_t heads) {
  const std::int64_t blocks = batch * heads * ((tokens + kTile - 1) / kTile);
  if (tokens > (std::int64_t(1) << 30) || blocks >= (std::int64_t(1) << 31))
    throw std::invalid_argument("flash attention: " + std::to_string(batch) + " × " + std::to_string(heads) +
                                " heads × " + std::to_string(tokens) + " tokens is more than one launch takes");
  return unsigned(blocks);
}

template <class Kernel> void allow_smem(Kernel kernel, std::size_t bytes) {
  CARNOT_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
}

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

}  // namespace

bool flash_attention_applies(std::int64_t head_dim, const void* a, const void* b) {
  return head_dim > 0 && head_dim % 8 == 0 && head_dim <= kMaxHeadDim && aligned16(a) && aligned16(b);
}

void flash_attention_forward(std::int64_t batch, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim,
                             const __nv_bfloat16* qkv, float* lse, __nv_bfloat16* out) {
  if (batch * heads * tokens == 0) return;
  const int dp = padded(head_dim);
  ForwardSmem layout;
  const std::size_t bytes = forward_smem(0, dp, layout);
  allow_smem(flash_forward_k, bytes);
  flash_forward_k<<<flash_blocks(batch, tokens, heads), kFlashThreads, bytes>>>(
      qkv, lse, out, int(tokens), int(heads), int(head_dim), dp, float(1.0 / std::sqrt(double(head_dim))));
  CARNOT_CUDA_CHECK(cudaGetLastError());
}

void flash_attention_backward(std::int64_t batch, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim,
                              const __nv_bfloat16* qkv, const float* lse, const __nv_bfloat16* out,
                              const __nv_bfloat16* dout, __nv_bfloat16* dqkv) {
  if (batch * heads * tokens == 0) return;
  static GrowingScratch delta_scratch;
  const std::int64_t rows = batch * heads * tokens;
  auto* delta = static_cast<float*>(delta_scratch.get(std::size_t(rows) * sizeof(float)));
  const int rows_per_block = kThreads / 32;
  flash_delta_k<<<unsigned((rows + rows_per_block - 1) / rows_per_block), kThreads>>>(out, dout, delta, rows,
                                                                                     int(tokens), int(heads),
                                                                                     int(head_dim));
  CARNOT_CUDA_CHECK(cudaGetLastError());
  const int dp = padded(head_dim);
  const float scale = float(1.0 / std::sqrt(double(head_dim)));
  const unsigned blocks = flash_blocks(batch, tokens, heads);
  BackwardSmem layout;
  const std::size_t dkv_bytes = backward_smem(0, dp, 2, layout), dq_bytes = backward_smem(0, dp, 1, layout);
  allow_smem(flash_dkv_k, dkv_bytes);
  allow_smem(flash_dq_k, dq_bytes);
  flash_dkv_k<<<blocks, kFlashThreads, dkv_bytes>>>(qkv, lse, delta, dout, dqkv, int(tokens), int(heads),
                                                    int(head_dim), dp, scale);
  CARNOT_CUDA_CHECK(cudaGetLastError());
  flash_dq_k<<<blocks, kFlashThreads, dq_bytes>>>(qkv, lse, delta, dout, dqkv, int(tokens), int(heads),
                                                  int(head_dim), dp, scale);
  CARNOT_CUDA_CHECK(cudaGetLastError());
}

}  // namespace carnot::cuda_kernels
