// Moves and small per-element ops: embeddings, batched transposes, DiT's unpatchify, strided block
// copies, per-plane broadcast and sums, ×2 up-sampling, sinusoidal time features and dropout with
// in-kernel Philox (the CPU twin's draws, so masks agree bitwise). Sums that the CPU makes in a
// given order (embedding rows, up-sampling blocks) are made here in the same order by one thread.
#include <cmath>
#include <type_traits>

#include "framework/core/random.h"
#include "kernels/cuda/bf16_rows.cuh"
#include "kernels/cuda/element.cuh"
#include "kernels/cuda/kernels.cuh"
#include "kernels/cuda/launch.cuh"

namespace carnot::cuda_kernels {

namespace {

template <class T>
__global__ void embedding_fwd_k(std::int64_t rows, std::int64_t dim, const T* table, const std::int64_t* ids, T* out) {
  CARNOT_GRID_STRIDE(i, rows * dim) out[i] = table[ids[i / dim] * dim + i % dim];
}
// One thread per column adds the rows in order: deterministic where ids repeat.
template <class T>
__global__ void embedding_bwd_k(std::int64_t rows, std::int64_t dim, const std::int64_t* ids, const T* dout, T* dtable) {
  CARNOT_GRID_STRIDE(c, dim) {
    for (std::int64_t r = 0; r < rows; ++r)
      dtable[ids[r] * dim + c] = st<T>(ld(dtable[ids[r] * dim + c]) + ld(dout[r * dim + c]));
  }
}
// y[b] = x[b]ᵀ through a 32×32 tile in shared memory, so that both the reads and the writes run
// along rows (the one-element-a-thread version wrote 2-byte values rows apart: DiT-B/2's patch
// embedding, [512, 768, 256] in bf16, took 1.8 ms where the bytes need 0.07). The +1 column keeps
// the tile's column reads off a single bank.
constexpr int kTile = 32, kTileRows = 8;
template <class T>
__global__ void transpose_k(std::int64_t batch, std::int64_t rows, std::int64_t cols, const T* x, T* y) {
  __shared__ T tile[kTile][kTile + 1];
  const std::int64_t c0 = std::int64_t(blockIdx.x) * kTile;
  for (std::int64_t b = blockIdx.z; b < batch; b += gridDim.z) {
    const T* xb = x + b * rows * cols;
    T* yb = y + b * rows * cols;
    for (std::int64_t r0 = std::int64_t(blockIdx.y) * kTile; r0 < rows; r0 += std::int64_t(gridDim.y) * kTile) {
      for (int i = threadIdx.y; i < kTile; i += kTileRows) {
        const std::int64_t r = r0 + i, c = c0 + threadIdx.x;
        if (r < rows && c < cols) tile[i][threadIdx.x] = xb[r * cols + c];
      }
      __syncthreads();
      for (int i = threadIdx.y; i < kTile; i += kTileRows) {
        const std::int64_t c = c0 + i, r = r0 + threadIdx.x;  // y[c, r] = x[r, c]
        if (r < rows && c < cols) yb[c * rows + r] = tile[threadIdx.x][i];
      }
      __syncthreads();  // the tile is read before the next one overwrites it
    }
  }
}
// tokens[b, i·w + j, (pi·p + pj)·C + c] ↔ image[b, c, i·p + pi, j·p + pj]; one thread per token element.
template <class T>
__global__ void unpatchify_k(std::int64_t batch, std::int64_t h, std::int64_t w, std::int64_t p, std::int64_t channels,
                             bool to_image, const T* in, T* out) {
  const std::int64_t H = h * p, W = w * p;
  CARNOT_GRID_STRIDE(t, batch * h * w * p * p * channels) {
    const std::int64_t c = t % channels, pp = t / channels % (p * p), tok = t / (channels * p * p);
    const std::int64_t b = tok / (h * w), i = tok / w % h, j = tok % w, pi = pp / p, pj = pp % p;
    const std::int64_t m = ((b * channels + c) * H + i * p + pi) * W + j * p + pj;
    if (to_image)
      out[m] = in[t];
    else
      out[t] = in[m];
  }
}
template <class T>
__global__ void copy_blocks_k(std::int64_t count, std::int64_t block, const T* src, std::int64_t src_stride, T* dst,
                              std::int64_t dst_stride, bool accumulate) {
  CARNOT_GRID_STRIDE(i, count * block) {
    const std::int64_t b = i / block, k = i % block;
    if (accumulate)
      dst[b * dst_stride + k] = st<T>(ld(dst[b * dst_stride + k]) + ld(src[b * src_stride + k]));
    else
      dst[b * dst_stride + k] = src[b * src_stride + k];
  }
}
template <class T> __global__ void add_per_plane_k(std::int64_t planes, std::int64_t hw, const T* v, T* y) {
  CARNOT_GRID_STRIDE(i, planes * hw) y[i] = st<T>(ld(y[i]) + ld(v[i / hw]));
}
// One block per plane, float64 tree sum.
template <class T> __global__ void sum_per_plane_k(std::int64_t hw, const T* dy, T* dv) {
  const T* row = dy + std::int64_t(blockIdx.x) * hw;
  double s = 0;
  for (std::int64_t i = threadIdx.x; i < hw; i += blockDim.x) s += double(ld(row[i]));
  s = block_sum(s);
  if (threadIdx.x == 0) dv[blockIdx.x] = st<T>(compute_t<T>(s));
}
template <class T>
__global__ void upsample_fwd_k(std::int64_t planes, std::int64_t h, std::int64_t w, const T* x, T* y) {
  CARNOT_GRID_STRIDE(o, planes * 4 * h * w) {
    const std::int64_t c = o / (4 * h * w), i = o / (2 * w) % (2 * h), j = o % (2 * w);
    y[o] = x[(c * h + i / 2) * w + j / 2];
  }
}
template <class T>
__global__ void upsample_bwd_k(std::int64_t planes, std::int64_t h, std::int64_t w, const T* dy, T* dx) {
  CARNOT_GRID_STRIDE(o, planes * h * w) {
    const std::int64_t c = o / (h * w), i = o / w % h, j = o % w;
    const T* d = dy + (c * 2 * h + 2 * i) * 2 * w + 2 * j;
    dx[o] = st<T>(ld(d[0]) + ld(d[1]) + ld(d[2 * w]) + ld(d[2 * w + 1]));
  }
}
template <class T>
__global__ void timestep_k(std::int64_t rows, std::int64_t dim, const float* t, double log_max_period,
                           double freq_shift, bool sin_first, T* out) {
  const std::int64_t half = dim / 2;
  CARNOT_GRID_STRIDE(i, rows * half) {
    const std::int64_t r = i / half, k = i % half;
    const double freq = exp(-log_max_period * double(k) / (double(half) - freq_shift));
    const double arg = double(t[r]) * freq;
    using C = compute_t<T>;  // bf16: through float, as the CPU twin widened
    out[r * dim + (sin_first ? half : 0) + k] = st<T>(C(cos(arg)));
    out[r * dim + (sin_first ? 0 : half) + k] = st<T>(C(sin(arg)));
    if (k == 0 && dim % 2) out[r * dim + dim - 1] = st<T>(C(0));
  }
}
// One thread per 4 columns of a row: one Philox draw, as the CPU twin.
template <class T>
__global__ void dropout_fwd_k(std::int64_t rows, std::int64_t cols, double p, DropoutKey key, const T* x, T* y, T* mask) {
  const std::int64_t groups = (cols + 3) / 4;
  using C = compute_t<T>;
  const C keep_scale = C(1.0 / (1.0 - p));
  CARNOT_GRID_STRIDE(g, rows * groups) {
    const std::int64_t r = g / groups, j = g % groups * 4;
    const Philox4x32 w = philox_draw(key.seed, key.step, key.first_index + std::uint32_t(r), RngStream::kDropout,
                                     key.block + std::uint32_t(j / 4));
    for (std::int64_t q = 0; q < 4 && j + q < cols; ++q) {
      const std::int64_t i = r * cols + j + q;
      const C m = uniform_open01(w.v[q]) < p ? C(0) : keep_scale;
      mask[i] = st<T>(m);
      y[i] = st<T>(ld(x[i]) * m);  // the unrounded scale, as the CPU's widened bf16
    }
  }
}
template <class T> __global__ void dropout_bwd_k(std::int64_t n, const T* mask, const T* dy, T* dx) {
  CARNOT_GRID_STRIDE(i, n) dx[i] = st<T>(ld(dy[i]) * ld(mask[i]));
}

}  // namespace

template <class T>
void embedding_forward(std::int64_t rows, std::int64_t dim, const T* table, const std::int64_t* ids, T* out) {
  launch(rows * dim, embedding_fwd_k<T>, rows, dim, table, ids, out);
}
template <class T>
void embedding_backward(std::int64_t rows, std::int64_t dim, const std::int64_t* ids, const T* dout, T* dtable) {
  launch(dim, embedding_bwd_k<T>, rows, dim, ids, dout, dtable);
}
template <class T> void transpose_batched(std::int64_t batch, std::int64_t rows, std::int64_t cols, const T* x, T* y) {
  if (batch <= 0 || rows <= 0 || cols <= 0) return;
  // Column tiles on x (up to 2³¹); row tiles and samples beyond y's and z's 65535 loop in the kernel.
  const dim3 grid(unsigned((cols + kTile - 1) / kTile), unsigned(std::min<std::int64_t>((rows + kTile - 1) / kTile, 65535)),
                  unsigned(std::min<std::int64_t>(batch, 65535)));
  transpose_k<T><<<grid, dim3(kTile, kTileRows)>>>(batch, rows, cols, x, y);
  CARNOT_CUDA_CHECK(cudaGetLastError());
}
template <class T>
void unpatchify(std::int64_t batch, std::int64_t h, std::int64_t w, std::int64_t p, std::int64_t channels,
                bool to_image, const T* in, T* out) {
  launch(batch * h * w * p * p * channels, unpatchify_k<T>, batch, h, w, p, channels, to_image, in, out);
}
template <class T>
void copy_blocks(std::int64_t count, std::int64_t block, const T* src, std::int64_t src_stride, T* dst,
                 std::int64_t dst_stride, bool accumulate) {
  if (count <= 0 || block <= 0) return;
  if (!accumulate && (count == 1 || (src_stride >= block && dst_stride >= block))) {
    if (src == dst) return;
    // A plain copy: the copy engines' path, at full bandwidth whatever the dtype.
    const std::size_t width = std::size_t(block) * sizeof(T);
    CARNOT_CUDA_CHECK(cudaMemcpy2DAsync(dst, count == 1 ? width : std::size_t(dst_stride) * sizeof(T), src,
                                        count == 1 ? width : std::size_t(src_stride) * sizeof(T), width,
                                        std::size_t(count), cudaMemcpyDeviceToDevice, 0));
    return;
  }
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    if (accumulate && accumulate_blocks_bf16_rows(count, block, src, src_stride, dst, dst_stride)) return;
  launch(count * block, copy_blocks_k<T>, count, block, src, src_stride, dst, dst_stride, accumulate);
}
template <class T> void add_per_plane(std::int64_t planes, std::int64_t hw, const T* v, T* y) {
  launch(planes * hw, add_per_plane_k<T>, planes, hw, v, y);
}
template <class T> void sum_per_plane(std::int64_t planes, std::int64_t hw, const T* dy, T* dv) {
  if (planes <= 0) return;
  sum_per_plane_k<T><<<unsigned(planes), kThreads>>>(hw, dy, dv);
  CARNOT_CUDA_CHECK(cudaGetLastError());
}
template <class T> void upsample2x_forward(std::int64_t planes, std::int64_t h, std::int64_t w, const T* x, T* y) {
  launch(planes * 4 * h * w, upsample_fwd_k<T>, planes, h, w, x, y);
}
template <class T> void upsample2x_backward(std::int64_t planes, std::int64_t h, std::int64_t w, const T* dy, T* dx) {
  launch(planes * h * w, upsample_bwd_k<T>, planes, h, w, dy, dx);
}
template <class T>
void timestep_embedding(std::int64_t rows, std::int64_t dim, const float* t, const SinusoidStyle& style, T* out) {
  launch(rows * (dim / 2), timestep_k<T>, rows, dim, t, std::log(style.max_period), style.freq_shift, style.sin_first,
         out);
}
template <class T>
void dropout_forward(std::int64_t rows, std::int64_t cols, double p, const DropoutKey& key, const T* x, T* y, T* mask) {
  launch(rows * ((cols + 3) / 4), dropout_fwd_k<T>, rows, cols, p, key, x, y, mask);
}
template <class T> void dropout_backward(std::int64_t n, const T* mask, const T* dy, T* dx) {
  launch(n, dropout_bwd_k<T>, n, mask, dy, dx);
}

// DiT's moves, embeddings and time features also in bf16 (element.cuh).
#define CARNOT_DIT_LAYOUT(T)                                                                                     \
  template void embedding_forward<T>(std::int64_t, std::int64_t, const T*, const std::int64_t*, T*);             \
  template void embedding_backward<T>(std::int64_t, std::int64_t, const std::int64_t*, const T*, T*);            \
  template void transpose_batched<T>(std::int64_t, std::int64_t, std::int64_t, const T*, T*);                    \
  template void unpatchify<T>(std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, bool,        \
                              const T*, T*);                                                                     \
  template void copy_blocks<T>(std::int64_t, std::int64_t, const T*, std::int64_t, T*, std::int64_t, bool);      \
  template void timestep_embedding<T>(std::int64_t, std::int64_t, const float*, const SinusoidStyle&, T*);
#define CARNOT_LAYOUT(T)                                                                                         \
  template void add_per_plane<T>(std::int64_t, std::int64_t, const T*, T*);                                      \
  template void sum_per_plane<T>(std::int64_t, std::int64_t, const T*, T*);                                      \
  template void upsample2x_forward<T>(std::int64_t, std::int64_t, std::int64_t, const T*, T*);                   \
  template void upsample2x_backward<T>(std::int64_t, std::int64_t, std::int64_t, const T*, T*);                  \
  template void dropout_forward<T>(std::int64_t, std::int64_t, double, const DropoutKey&, const T*, T*, T*);     \
  template void dropout_backward<T>(std::int64_t, const T*, const T*, T*);
CARNOT_DIT_LAYOUT(float)
CARNOT_DIT_LAYOUT(double)
CARNOT_DIT_LAYOUT(__nv_bfloat16)
CARNOT_LAYOUT(float)
CARNOT_LAYOUT(double)
CARNOT_LAYOUT(__nv_bfloat16)
#undef CARNOT_DIT_LAYOUT
#undef CARNOT_LAYOUT

}  // namespace carnot::cuda_kernels
