// FlashAttention-style fused multi-head attention on bf16 (Dao 2023, FA2's loop order and register
// layout) on the tensor cores through mma.sync m16n8k16 (bf16 in, float32 accumulation), with
// ldmatrix feeding the operands from shared memory. The probabilities never reach global memory;
// forward saves each row's log-sum-exp and backward recomputes P from it.
//
// Why raw mma.sync and not WMMA: the accumulator layout of m16n8k16 is documented (a thread holds
// rows g = lane/4 and g + 8, columns 2·(lane%4) and +1 of each 8-column tile), so the softmax's row
// maxima and sums are a few shuffles within a quad, the rescaling of O is done in registers, and a
// product's accumulator is the next product's A operand without a trip through shared memory
// (P of S = Q Kᵀ becomes the A of P V). Shared memory holds only the streamed K/V (or Q/dO) tiles,
// rows padded by 16 bytes so that ldmatrix's eight row addresses fall in eight different banks.
//
// Forward: a block owns 64 queries of one (sample, head), four warps of 16 rows, Q in registers;
// it streams 64-key tiles of K and V: S = Q Kᵀ, the online softmax, O ← O·e^{m_old − m_new} + P V.
// Backward is deterministic (no atomics): a dK/dV kernel (a block owns 64 keys, K and V in
// registers, walks 32-query tiles of Q and dO) and a dQ kernel (owns 64 queries, Q and dO in
// registers, walks 32-key tiles of K and V), each computing its own S and dP — 10·N²·D FLOPs per
// head against FA2's 8·N²·D with atomic dQ, the price of bitwise repeatable gradients.
// Δ = rowsum(dO ⊙ O) comes first, from a small kernel.
//
// Cost per (sample, head), N tokens, head dim D (DiT-XL/2: N = 256, D = 72): forward 4N²D FLOPs
// (19 M) over 8·N·D bytes (0.15 MB): compute-bound. Head dims are padded to a multiple of 16 with
// zeros in shared memory (72 → 80), so D = 72 does 11% more tensor-core work than it needs. Each
// padded width is its own instantiation (DP/16 = 1…8), so the register arrays are exactly sized.
#include "kernels/cuda/flash_attention.cuh"

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/launch.cuh"

namespace carnot::cuda_kernels {

namespace {

using bf16 = __nv_bfloat16;

constexpr int kWarps = 4;
constexpr int kFlashThreads = 32 * kWarps;
constexpr int kRows = 16 * kWarps;     // queries (forward, dQ) or keys (dK/dV) a block owns
constexpr int kForwardCols = 64;       // keys per streamed tile in forward
constexpr int kBackwardCols = 32;      // queries (dK/dV) or keys (dQ) per streamed tile in backward
constexpr int kMaxHeadDim = 128;
constexpr float kLog2e = 1.4426950408889634f;

// Blocks per SM that the forward and dK/dV kernels ask the compiler to fit (registers ≤ 65536 /
// (128 · blocks)). ncu on the H100 (DiT-XL/2, D 72, without bounds): forward 135 registers, so 3
// blocks (18.75% occupancy), dK/dV 235, so 2 (12.5%); both latency-bound (SM throughput 50% and
// 33%). Measured with these bounds against without, same run: the forward at D 72 in 128
// registers (48 bytes spilled) 2% faster; dK/dV at D 64 in 168 (8 bytes) took DiT-B/2's and
// S/2's attention backward 10% faster, but at D 72 in 168 (128 bytes spilled) 21% slower, so D 72
// keeps the compiler's 235. Wider heads keep the compiler's choice too.
template <int KC> struct MinBlocks {
  static constexpr int forward = KC <= 5 ? 4 : 1, dkv = KC <= 4 ? 3 : 1;
};

// Padded head dim and shared-memory row stride (in elements) for KC chunks of 16 columns.
template <int KC> struct Width {
  static constexpr int dp = 16 * KC;
  static constexpr int stride = dp + 8;  // +16 bytes: ldmatrix's 8 rows hit 8 different banks
};

__device__ __forceinline__ unsigned smem_address(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

// Four 8×8 bf16 matrices; lane l gives the address of row l%8 of matrix l/8. Thread T receives of
// matrix i the pair (row T/4, columns 2·(T%4), +1); with .trans the pair (rows 2·(T%4), +1; column T/4).
__device__ __forceinline__ void ldmatrix_x4(std::uint32_t (&r)[4], const bf16* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_address(p))
               : "memory");
}
__device__ __forceinline__ void ldmatrix_x4_trans(std::uint32_t (&r)[4], const bf16* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_address(p))
               : "memory");
}

// c[16×8] += a[16×16] · b[16×8]: a as (row g, k 2t..2t+1), (g+8, 2t), (g, 2t+8), (g+8, 2t+8);
// b as (k 2t..2t+1, column g), (k 2t+8.., g); c as (g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1),
// with g = lane/4, t = lane%4 (PTX ISA, "Matrix Fragments for mma.m16n8k16").
__device__ __forceinline__ void mma_bf16(float (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                                         std::uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ std::uint32_t pack_bf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x (low half) = lo
  return *reinterpret_cast<const std::uint32_t*>(&v);
}

// Rows [first, first + ROWS) of a row-major matrix (rows `ld` apart, d columns used) into
// dst[ROWS][stride], zero past the last token and in columns [d, dp), in 16-byte vectors
// (d % 8 == 0, src 16-byte aligned).
template <int ROWS>
__device__ void load_tile(bf16* dst, int stride, int dp, const bf16* src, std::int64_t ld, int first, int n, int d) {
  const int chunks = dp / 8;
  for (int c = threadIdx.x; c < ROWS * chunks; c += kFlashThreads) {
    const int r = c / chunks, col = (c % chunks) * 8;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (first + r < n && col < d) v = *reinterpret_cast<const uint4*>(src + std::int64_t(first + r) * ld + col);
    *reinterpret_cast<uint4*>(dst + r * stride + col) = v;
  }
}

// The same through cp.async (Ampere and later): the copies run while the thread goes on, so a
// tile's successor loads while the tensor cores work on it; zero-filled where not valid (the
// source address is then not read, but stays a valid one).
__device__ __forceinline__ void cp_async16(bf16* dst, const bf16* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_address(dst)), "l"(src),
               "r"(valid ? 16 : 0)
               : "memory");
}
__device__ __forceinline__ void cp_async4(float* dst, const float* src, bool valid) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smem_address(dst)), "l"(src),
               "r"(valid ? 4 : 0)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
// Waits until at most N of this thread's committed groups are still in flight.
template <int N> __device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

template <int ROWS>
__device__ void load_tile_async(bf16* dst, int stride, int dp, const bf16* src, std::int64_t ld, int first, int n,
                                int d) {
  const int chunks = dp / 8;
  for (int c = threadIdx.x; c < ROWS * chunks; c += kFlashThreads) {
    const int r = c / chunks, col = (c % chunks) * 8;
    const bool valid = first + r < n && col < d;
    cp_async16(dst + r * stride + col, valid ? src + std::int64_t(first + r) * ld + col : src, valid);
  }
}

// The top of a double-buffered loop over tiles at, at + cols, … < n, this one in buffer `half`:
// once every warp is done with the other buffer (the last tile), the next tile's copies start into
// it (fetch(next, other half)); then this tile's copies, every thread's, have landed.
template <class Fetch> __device__ __forceinline__ void next_tile_ready(int at, int cols, int n, int half, Fetch&& fetch) {
  __syncthreads();
  if (at + cols < n) {
    fetch(at + cols, half ^ 1);
    cp_async_wait<1>();  // all but the group just started
  } else {
    cp_async_wait<0>();
  }
  __syncthreads();
}

// Rows [row0, row0 + 16) of a [·][stride] tile as the A operand of KC k-chunks.
template <int KC> __device__ void load_a(std::uint32_t (&a)[KC][4], const bf16* tile, int row0, int lane) {
  constexpr int stride = Width<KC>::stride;
  const int r = row0 + lane % 8 + 8 * ((lane / 8) % 2), c = 8 * (lane / 16);
#pragma unroll
  for (int kk = 0; kk < KC; ++kk) ldmatrix_x4(a[kk], tile + r * stride + 16 * kk + c);
}

// acc[16 × COLS] = A · tileᵀ: this warp's 16 rows (A, KC chunks of the head dim) against the
// tile's COLS rows. acc[j] is the 8-column tile j in the accumulator layout.
template <int KC, int COLS>
__device__ void a_times_tile_t(float (&acc)[COLS / 8][4], const std::uint32_t (&a)[KC][4], const bf16* tile,
                               int lane) {
  constexpr int stride = Width<KC>::stride;
#pragma unroll
  for (int j = 0; j < COLS / 8; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;
  // Matrices: rows +0..7 columns +0..7, rows +0..7 columns +8..15, rows +8..15 columns +0..7, +8..15:
  // the (k 0..7, k 8..15) halves of B for column tiles 2jp and 2jp + 1.
  const int r = lane % 8 + 8 * (lane / 16), c = 8 * ((lane / 8) % 2);
#pragma unroll
  for (int jp = 0; jp < COLS / 16; ++jp)
#pragma unroll
    for (int kk = 0; kk < KC; ++kk) {
      std::uint32_t b[4];
      ldmatrix_x4(b, tile + (16 * jp + r) * stride + 16 * kk + c);
      mma_bf16(acc[2 * jp], a[kk], b[0], b[1]);
      mma_bf16(acc[2 * jp + 1], a[kk], b[2], b[3]);
    }
}

// out[16 × dp] += W · tile: W (16 × COLS) given as accumulators, rounded to bf16 as the A operand;
// the tile's COLS rows of dp columns are B through ldmatrix.trans.
template <int KC, int COLS>
__device__ void w_times_tile(float (&out)[2 * KC][4], const float (&w)[COLS / 8][4], const bf16* tile, int lane) {
  constexpr int stride = Width<KC>::stride;
  // Matrices: rows +0..7 columns +0..7, rows +8..15 columns +0..7, rows +0..7 columns +8..15, +8..15:
  // transposed, the (k 0..7, k 8..15) halves of B for output column tiles 2dc and 2dc + 1.
  const int r = lane % 8 + 8 * ((lane / 8) % 2), c = 8 * (lane / 16);
#pragma unroll
  for (int kc = 0; kc < COLS / 16; ++kc) {
    const std::uint32_t a[4] = {pack_bf16(w[2 * kc][0], w[2 * kc][1]), pack_bf16(w[2 * kc][2], w[2 * kc][3]),
                                pack_bf16(w[2 * kc + 1][0], w[2 * kc + 1][1]),
                                pack_bf16(w[2 * kc + 1][2], w[2 * kc + 1][3])};
#pragma unroll
    for (int dc = 0; dc < KC; ++dc) {
      std::uint32_t b[4];
      ldmatrix_x4_trans(b, tile + (16 * kc + r) * stride + 16 * dc + c);
      mma_bf16(out[2 * dc], a, b[0], b[1]);
      mma_bf16(out[2 * dc + 1], a, b[2], b[3]);
    }
  }
}

// Writes this warp's 16 rows [row0, row0 + 16) of a [16 × dp] accumulator, times `scale`, as bf16
// into a row-major matrix (rows `ld` apart), rows < n and columns < d only.
template <int KC>
__device__ void store_rows(bf16* dst, std::int64_t ld, const float (&acc)[2 * KC][4], int row0, int n, int d,
                           float scale0, float scale1, int lane) {
  const int g = lane / 4, tq = lane % 4;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int row = row0 + g + 8 * half;
    const float s = half == 0 ? scale0 : scale1;
    if (row >= n) continue;
#pragma unroll
    for (int j = 0; j < 2 * KC; ++j) {
      const int col = 8 * j + 2 * tq;
      if (col < d)
        *reinterpret_cast<__nv_bfloat162*>(dst + std::int64_t(row) * ld + col) =
            __floats2bfloat162_rn(acc[j][2 * half] * s, acc[j][2 * half + 1] * s);
    }
  }
}

// Where a block works: its (sample, head) bh, the first of its 64 rows, the thread's warp and lane,
// and the head's first column in qkv (rows ld = 3C apart) and in out and dout (rows C apart).
struct HeadTile {
  int bh, first, warp, lane;
  std::int64_t C, ld, qkv_at, out_at;
  __device__ HeadTile(int n, int heads, int d) {
    const int tiles = (n + kRows - 1) / kRows;
    bh = blockIdx.x / tiles, first = (blockIdx.x % tiles) * kRows;
    warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int b = bh / heads, h = bh % heads;
    C = std::int64_t(heads) * d, ld = 3 * C;
    qkv_at = std::int64_t(b) * n * ld + h * d, out_at = std::int64_t(b) * n * C + h * d;
  }
};

template <int KC>
__global__ void __launch_bounds__(kFlashThreads, MinBlocks<KC>::forward)
    flash_forward_k(const bf16* qkv, float* lse, bf16* out, int n, int heads, int d, float scale) {
  constexpr int dp = Width<KC>::dp, stride = Width<KC>::stride, NT = kForwardCols / 8;
  static_assert(kForwardCols == kRows, "Q is staged in a K tile");
  // Two K/V tile pairs (the next one's copies in flight) where they fit the 48 KB of static shared
  // memory (head dims up to 80: DiT's), else one.
  constexpr int kTile = kForwardCols * stride;
  constexpr int kStages = 4 * kTile * int(sizeof(bf16)) <= 48 * 1024 ? 2 : 1;
  __shared__ __align__(16) bf16 k_s[kStages * kTile], v_s[kStages * kTile];
  const HeadTile t(n, heads, d);
  const int q0 = t.first, warp = t.warp, lane = t.lane, tq = lane % 4;
  const bf16* q_g = qkv + t.qkv_at;
  const float scale_log2 = scale * kLog2e;
  auto fetch = [&](int k0, int stage) {
    load_tile_async<kForwardCols>(k_s + stage * kTile, stride, dp, q_g + t.C, t.ld, k0, n, d);
    load_tile_async<kForwardCols>(v_s + stage * kTile, stride, dp, q_g + 2 * t.C, t.ld, k0, n, d);
    cp_async_commit();
  };

  bf16* q_stage = k_s + (kStages - 1) * kTile;  // Q passes through the last K tile
  if (kStages == 2) fetch(0, 0);                // the first tiles land meanwhile
  load_tile<kRows>(q_stage, stride, dp, q_g, t.ld, q0, n, d);
  __syncthreads();
  std::uint32_t qa[KC][4];
  load_a<KC>(qa, q_stage, warp * 16, lane);
  float o[2 * KC][4] = {};
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};  // rows g and g + 8; l: this thread's part

  for (int k0 = 0, tile = 0; k0 < n; k0 += kForwardCols, ++tile) {
    const int stage = kStages == 2 ? tile % 2 : 0;
    if (kStages == 2) {
      next_tile_ready(k0, kForwardCols, n, stage, fetch);  // (the first refill overwrites Q)
    } else {
      __syncthreads();  // every warp is done with the buffers (the last tiles, or Q)
      fetch(k0, 0);
      cp_async_wait<0>();
      __syncthreads();
    }
    const bf16 *kt = k_s + stage * kTile, *vt = v_s + stage * kTile;
    float s[NT][4];
    a_times_tile_t<KC, kForwardCols>(s, qa, kt, lane);  // S = Q Kᵀ (unscaled)
    // The online softmax in units of the unscaled logits; a row's 64 columns lie in its quad.
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int j = 0; j < NT; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        if (k0 + 8 * j + 2 * tq + (e & 1) >= n) s[j][e] = -INFINITY;
        mx[e / 2] = fmaxf(mx[e / 2], s[j][e]);
      }
    float alpha[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
      const float m_new = fmaxf(m[r], mx[r]);  // finite: the first tile has key 0
      alpha[r] = exp2f((m[r] - m_new) * scale_log2);
      m[r] = m_new, l[r] *= alpha[r];
    }
#pragma unroll
    for (int j = 0; j < NT; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        s[j][e] = exp2f((s[j][e] - m[e / 2]) * scale_log2);
        l[e / 2] += s[j][e];
      }
#pragma unroll
    for (int j = 0; j < 2 * KC; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) o[j][e] *= alpha[e / 2];
    w_times_tile<KC, kForwardCols>(o, s, vt, lane);  // O += P V
  }
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
  }
  const int row0 = q0 + warp * 16;
  store_rows<KC>(out + t.out_at, t.C, o, row0, n, d, 1.0f / l[0], 1.0f / l[1], lane);
  if (tq == 0)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int row = row0 + lane / 4 + 8 * r;
      if (row < n) lse[std::int64_t(t.bh) * n + row] = m[r] * scale + logf(l[r]);
    }
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

// dK and dV for 64 keys: for each 32-query tile, Sᵀ = K Qᵀ, dPᵀ = V dOᵀ, Pᵀ = e^{Sᵀ·scale − lse},
// dSᵀ = Pᵀ ⊙ (dPᵀ − Δ), dV += Pᵀ dO, dK += dSᵀ Q; dK is scaled once at the end.
template <int KC>
__global__ void __launch_bounds__(kFlashThreads, MinBlocks<KC>::dkv)
    flash_dkv_k(const bf16* qkv, const float* lse, const float* delta, const bf16* dout, bf16* dqkv, int n, int heads,
                int d, float scale) {
  constexpr int dp = Width<KC>::dp, stride = Width<KC>::stride, NT = kBackwardCols / 8;
  // K and V of the block's keys pass through a_s and b_s into registers; then 32-query tiles of Q
  // and dO stream through their two halves, the next tile's copies in flight during this one's.
  __shared__ __align__(16) bf16 a_s[kRows * stride], b_s[kRows * stride];
  __shared__ float lse_s[2][kBackwardCols], delta_s[2][kBackwardCols];
  const HeadTile t(n, heads, d);
  const int k0 = t.first, warp = t.warp, lane = t.lane, tq = lane % 4;
  const bf16* q_g = qkv + t.qkv_at;
  const bf16* do_g = dout + t.out_at;
  const float scale_log2 = scale * kLog2e;

  load_tile<kRows>(a_s, stride, dp, q_g + t.C, t.ld, k0, n, d);
  load_tile<kRows>(b_s, stride, dp, q_g + 2 * t.C, t.ld, k0, n, d);
  __syncthreads();
  std::uint32_t ka[KC][4], va[KC][4];
  load_a<KC>(ka, a_s, warp * 16, lane);
  load_a<KC>(va, b_s, warp * 16, lane);
  float dk[2 * KC][4] = {}, dv[2 * KC][4] = {};
  constexpr int kHalf = kBackwardCols * stride;
  auto fetch = [&](int q0, int half) {
    load_tile_async<kBackwardCols>(a_s + half * kHalf, stride, dp, q_g, t.ld, q0, n, d);  // Q
    load_tile_async<kBackwardCols>(b_s + half * kHalf, stride, dp, do_g, t.C, q0, n, d);  // dO
    for (int i = threadIdx.x; i < kBackwardCols; i += kFlashThreads) {  // asynchronous too: no stall
      const bool real = q0 + i < n;
      const std::int64_t at = std::int64_t(t.bh) * n + (real ? q0 + i : 0);
      cp_async4(&lse_s[half][i], lse + at, real);
      cp_async4(&delta_s[half][i], delta + at, real);
    }
    cp_async_commit();
  };
  __syncthreads();  // K and V are in every warp's registers: the buffers take tiles now
  fetch(0, 0);

  for (int q0 = 0, tile = 0; q0 < n; q0 += kBackwardCols, ++tile) {
    const int half = tile % 2;
    next_tile_ready(q0, kBackwardCols, n, half, fetch);
    const bf16 *qt = a_s + half * kHalf, *ot = b_s + half * kHalf;
    const float *lse_t = lse_s[half], *delta_t = delta_s[half];  // zero past the last query
    float s[NT][4], dpt[NT][4];
    a_times_tile_t<KC, kBackwardCols>(s, ka, qt, lane);    // Sᵀ = K Qᵀ
    a_times_tile_t<KC, kBackwardCols>(dpt, va, ot, lane);  // dPᵀ = V dOᵀ
#pragma unroll
    for (int j = 0; j < NT; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int q = 8 * j + 2 * tq + (e & 1);  // columns are queries; padded ones get P = 0
        const float p = q0 + q < n ? exp2f(s[j][e] * scale_log2 - lse_t[q] * kLog2e) : 0.0f;
        s[j][e] = p;
        dpt[j][e] = p * (dpt[j][e] - delta_t[q]);
      }
    w_times_tile<KC, kBackwardCols>(dv, s, ot, lane);    // dV += Pᵀ dO
    w_times_tile<KC, kBackwardCols>(dk, dpt, qt, lane);  // dK += dSᵀ Q
  }
  bf16* dk_g = dqkv + t.qkv_at + t.C;
  store_rows<KC>(dk_g, t.ld, dk, k0 + warp * 16, n, d, scale, scale, lane);
  store_rows<KC>(dk_g + t.C, t.ld, dv, k0 + warp * 16, n, d, 1.0f, 1.0f, lane);
}

// dQ for 64 queries: for each 32-key tile, S = Q Kᵀ, dP = dO Vᵀ, P = e^{S·scale − lse} (zero past
// the last key), dS = P ⊙ (dP − Δ), dQ += dS K; scaled once at the end.
template <int KC>
__global__ void __launch_bounds__(kFlashThreads)
    flash_dq_k(const bf16* qkv, const float* lse, const float* delta, const bf16* dout, bf16* dqkv, int n, int heads,
               int d, float scale) {
  constexpr int dp = Width<KC>::dp, stride = Width<KC>::stride, NT = kBackwardCols / 8;
  // Q and dO of the block's queries pass through a_s and b_s into registers; then 32-key tiles of
  // K and V stream through their two halves, the next tile's copies in flight during this one's.
  __shared__ __align__(16) bf16 a_s[kRows * stride], b_s[kRows * stride];
  const HeadTile t(n, heads, d);
  const int q0 = t.first, warp = t.warp, lane = t.lane, tq = lane % 4;
  const bf16* q_g = qkv + t.qkv_at;
  const float scale_log2 = scale * kLog2e;

  load_tile<kRows>(a_s, stride, dp, q_g, t.ld, q0, n, d);
  load_tile<kRows>(b_s, stride, dp, dout + t.out_at, t.C, q0, n, d);
  __syncthreads();
  std::uint32_t qa[KC][4], oa[KC][4];
  load_a<KC>(qa, a_s, warp * 16, lane);
  load_a<KC>(oa, b_s, warp * 16, lane);
  float lse_row[2], delta_row[2];  // rows g and g + 8
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int row = q0 + warp * 16 + lane / 4 + 8 * r;
    lse_row[r] = row < n ? lse[std::int64_t(t.bh) * n + row] * kLog2e : INFINITY;
    delta_row[r] = row < n ? delta[std::int64_t(t.bh) * n + row] : 0.0f;
  }
  float dq[2 * KC][4] = {};
  constexpr int kHalf = kBackwardCols * stride;
  auto fetch = [&](int k0, int half) {
    load_tile_async<kBackwardCols>(a_s + half * kHalf, stride, dp, q_g + t.C, t.ld, k0, n, d);      // K
    load_tile_async<kBackwardCols>(b_s + half * kHalf, stride, dp, q_g + 2 * t.C, t.ld, k0, n, d);  // V
    cp_async_commit();
  };
  __syncthreads();  // Q and dO are in every warp's registers: the buffers take tiles now
  fetch(0, 0);

  for (int k0 = 0, tile = 0; k0 < n; k0 += kBackwardCols, ++tile) {
    const int half = tile % 2;
    next_tile_ready(k0, kBackwardCols, n, half, fetch);
    const bf16 *kt = a_s + half * kHalf, *vt = b_s + half * kHalf;
    float s[NT][4], dpv[NT][4];
    a_times_tile_t<KC, kBackwardCols>(s, qa, kt, lane);    // S = Q Kᵀ
    a_times_tile_t<KC, kBackwardCols>(dpv, oa, vt, lane);  // dP = dO Vᵀ
#pragma unroll
    for (int j = 0; j < NT; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const bool real = k0 + 8 * j + 2 * tq + (e & 1) < n;
        const float p = real ? exp2f(s[j][e] * scale_log2 - lse_row[e / 2]) : 0.0f;
        s[j][e] = p * (dpv[j][e] - delta_row[e / 2]);
      }
    w_times_tile<KC, kBackwardCols>(dq, s, kt, lane);  // dQ += dS K
  }
  store_rows<KC>(dqkv + t.qkv_at, t.ld, dq, q0 + warp * 16, n, d, scale, scale, lane);
}

// Blocks for a launch over (batch, heads, 64-row tiles), refused past what one grid holds.
unsigned flash_blocks(std::int64_t batch, std::int64_t tokens, std::int64_t heads) {
  const std::int64_t blocks = batch * heads * ((tokens + kRows - 1) / kRows);
  if (tokens > (std::int64_t(1) << 30) || blocks >= (std::int64_t(1) << 31))
    throw std::invalid_argument("flash attention: " + std::to_string(batch) + " × " + std::to_string(heads) +
                                " heads × " + std::to_string(tokens) + " tokens is more than one launch takes");
  return unsigned(blocks);
}

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

// One instantiation per padded width 16·KC: head dims 8…128 in steps of 8 are KC = 1…8.
template <class F> void by_width(std::int64_t head_dim, F&& f) {
  if (!with_constant_1_to_8(int((head_dim + 15) / 16), f))
    throw std::invalid_argument("flash attention: head dim " + std::to_string(head_dim) + " over 128");
}

// The L1/shared split is set per kernel; the most shared memory lets MinBlocks' forward blocks
// (45 KB each at D 72, double-buffered) share an SM. Once per kernel (Tag and KC tell them apart).
template <int Tag, int KC, class Kernel> void prefer_shared_memory(Kernel kernel) {
  static const bool done = [&] {
    CARNOT_CUDA_CHECK(
        cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout, int(cudaSharedmemCarveoutMaxShared)));
    return true;
  }();
  (void)done;
}

float softmax_scale(std::int64_t head_dim) { return float(1.0 / std::sqrt(double(head_dim))); }

}  // namespace

bool flash_attention_applies(std::int64_t head_dim, const void* a, const void* b) {
  return head_dim > 0 && head_dim % 8 == 0 && head_dim <= kMaxHeadDim && aligned16(a) && aligned16(b);
}

void flash_attention_forward(std::int64_t batch, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim,
                             const __nv_bfloat16* qkv, float* lse, __nv_bfloat16* out) {
  if (batch * heads * tokens == 0) return;
  const unsigned blocks = flash_blocks(batch, tokens, heads);
  by_width(head_dim, [&](auto kc) {
    constexpr int KC = decltype(kc)::value;
    prefer_shared_memory<0, KC>(flash_forward_k<KC>);
    flash_forward_k<KC><<<blocks, kFlashThreads>>>(qkv, lse, out, int(tokens), int(heads), int(head_dim),
                                                   softmax_scale(head_dim));
  });
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
  const unsigned blocks = flash_blocks(batch, tokens, heads);
  const int n = int(tokens), h = int(heads), d = int(head_dim);
  by_width(head_dim, [&](auto kc) {
    constexpr int KC = decltype(kc)::value;
    prefer_shared_memory<1, KC>(flash_dkv_k<KC>);
    flash_dkv_k<KC><<<blocks, kFlashThreads>>>(qkv, lse, delta, dout, dqkv, n, h, d, softmax_scale(head_dim));
    CARNOT_CUDA_CHECK(cudaGetLastError());
    flash_dq_k<KC><<<blocks, kFlashThreads>>>(qkv, lse, delta, dout, dqkv, n, h, d, softmax_scale(head_dim));
  });
  CARNOT_CUDA_CHECK(cudaGetLastError());
}

}  // namespace carnot::cuda_kernels
