// Row-major C[m, n] = α op(A) op(B) + β C on device pointers (row strides lda, ldb, ldc), `count`
// times with the operands stride_* elements apart (count 1: one product).
#pragma once
#include <cstdint>

namespace carnot::cuda_kernels {

template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
          std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc, std::int64_t count = 1,
          std::int64_t stride_a = 0, std::int64_t stride_b = 0, std::int64_t stride_c = 0);

// The same on bf16 operands, accumulated in float32 on the tensor cores; the result in bf16, or
// in float32 with c_float (attention's logits and their gradient).
void gemm_bf16(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const void* a,
               std::int64_t lda, const void* b, std::int64_t ldb, float beta, void* c, std::int64_t ldc,
               bool c_float = false, std::int64_t count = 1, std::int64_t stride_a = 0, std::int64_t stride_b = 0,
               std::int64_t stride_c = 0);

// nn.Linear on bf16 in one cuBLASLt call (linear_lt.cu): y = x Wᵀ + bias, or with gelu pre = that
// and y = GELU(pre). False (nothing done) where cuBLASLt offers no algorithm for the shape or
// alignment: the caller runs the unfused ops.
bool linear_bf16_lt(std::int64_t rows, std::int64_t in, std::int64_t out, const void* x, const void* w,
                    const void* bias, bool gelu, void* pre, void* y);
// Ops::linear_backward_input on bf16 with gelu_pre: the GEMM and GELU' in one cuBLASLt call, then
// the bias gradient (dbias_pre accumulated) by bias_grad, or by cuBLASLt's BGRAD epilogue with
// kEpilogue (slower on the H100: kept for carnot_kernel_bench's comparison); false (nothing done)
// as above, or without gelu_pre (a plain GEMM is as good).
enum class LtBiasGrad { kSeparate, kEpilogue };
bool linear_backward_input_bf16_lt(std::int64_t rows, std::int64_t in, std::int64_t out, const void* dy, const void* w,
                                   const void* gelu_pre, void* dx, void* dbias_pre,
                                   LtBiasGrad bias_grad_by = LtBiasGrad::kSeparate);

}  // namespace carnot::cuda_kernels
