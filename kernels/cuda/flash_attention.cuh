// The fused (FlashAttention-style) bf16 attention: neither forward nor backward writes the N×N
// probabilities to memory. See flash_attention.cu.
#pragma once
#include <cstdint>

#include <cuda_bf16.h>

namespace carnot::cuda_kernels {

// Head dims the kernels take (multiples of 8 up to 128: DiT's 64 and 72), with the 16-byte
// aligned pointers their vector loads need.
bool flash_attention_applies(std::int64_t head_dim, const void* a, const void* b);

// As attention_forward/attention_backward (kernels/ops.h) on bf16: lse float32 [batch, heads, tokens].
void flash_attention_forward(std::int64_t batch, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim,
                             const __nv_bfloat16* qkv, float* lse, __nv_bfloat16* out);
void flash_attention_backward(std::int64_t batch, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim,
                              const __nv_bfloat16* qkv, const float* lse, const __nv_bfloat16* out,
                              const __nv_bfloat16* dout, __nv_bfloat16* dqkv);

}  // namespace carnot::cuda_kernels
