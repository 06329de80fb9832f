// Vectorised bf16 paths for the memory-bound ops of a DiT step (kernels/cuda/bf16_rows.cu): 16-byte
// loads and stores of 8 values, 32-bit index math, and adaLN with one warp a row (the row in
// registers, statistics by shuffles) where the general kernels take a 256-thread block a row and
// a block-wide float64 tree per statistic. Each returns false, doing nothing, where its shape or
// alignment does not fit (row width or length not a multiple of 8, a pointer not 16-byte aligned,
// adaLN rows wider than 2048); the caller then runs the general kernel. Same contract as those:
// float arithmetic from bf16 values, each output rounded once; statistics float32.
#pragma once
#include <cstdint>

#include <cuda_bf16.h>

namespace carnot::cuda_kernels {

bool adaln_forward_bf16_rows(std::int64_t batch, std::int64_t tokens, std::int64_t cols, double eps,
                             const __nv_bfloat16* x, const __nv_bfloat16* shift, const __nv_bfloat16* scale,
                             std::int64_t mod_stride, __nv_bfloat16* y, float* mean, float* rstd);
// dx = the input gradient, or dx += it (accumulate_dx); dx may be dy when not accumulating.
bool adaln_dx_bf16_rows(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const __nv_bfloat16* x,
                        const float* mean, const float* rstd, const __nv_bfloat16* scale, std::int64_t mod_stride,
                        const __nv_bfloat16* dy, __nv_bfloat16* dx, bool accumulate_dx);
// dshift[b, :] = Σ_n dy and dscale[b, :] = Σ_n dy x̂ over the sample's tokens (x̂ from x and the
// saved statistics), and dgate[b, :] = Σ_n dy h: a block per (sample, 256 columns), its 8 warps
// splitting the tokens, their sums added in a fixed order.
bool adaln_dparams_bf16_rows(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const __nv_bfloat16* x,
                             const float* mean, const float* rstd, std::int64_t mod_stride, const __nv_bfloat16* dy,
                             __nv_bfloat16* dshift, __nv_bfloat16* dscale);
bool gated_dgate_bf16_rows(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const __nv_bfloat16* h,
                           std::int64_t mod_stride, const __nv_bfloat16* dy, __nv_bfloat16* dgate);
// y = x + gate·h (forward; x may be y) and dh = dy·gate (backward; dh may be dy), gate per
// (sample, column).
bool gated_forward_bf16_rows(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const __nv_bfloat16* x,
                             const __nv_bfloat16* h, const __nv_bfloat16* gate, std::int64_t mod_stride,
                             __nv_bfloat16* y);
bool gated_dh_bf16_rows(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const __nv_bfloat16* gate,
                        std::int64_t mod_stride, const __nv_bfloat16* dy, __nv_bfloat16* dh);
// y += x, and y = GELU(x) (tanh form), over n contiguous values.
bool accumulate_bf16_rows(std::int64_t n, const __nv_bfloat16* x, __nv_bfloat16* y);
bool gelu_forward_bf16_rows(std::int64_t n, const __nv_bfloat16* x, __nv_bfloat16* y);
// copy_blocks accumulating (kernels/ops.h): dst[b, :block] += src[b, :block] for `count` blocks.
bool accumulate_blocks_bf16_rows(std::int64_t count, std::int64_t block, const __nv_bfloat16* src,
                                 std::int64_t src_stride, __nv_bfloat16* dst, std::int64_t dst_stride);

// bias_grad's first stage (kernels/cuda/elementwise.cu): partial[chunk, c] = Σ dy[r, c] over each
// chunk of chunk_rows rows, in row order.
bool bias_grad_partial_bf16_rows(std::int64_t rows, std::int64_t cols, std::int64_t chunk_rows,
                                 const __nv_bfloat16* dy, float* partial);

}  // namespace carnot::cuda_kernels
