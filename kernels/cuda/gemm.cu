// Row-major GEMMs through cuBLAS: fp32 and fp64 in pedantic math (no TF32: the twins hold to
// 1e-5), and bf16 on the tensor cores (bf16 operands and result, float32 accumulation; nn.Linear
// with its epilogues goes through cuBLASLt instead: linear_lt.cu).
// cuBLAS is column-major: a row-major C = op(A) op(B) is the column-major Cᵀ = op(B)ᵀ op(A)ᵀ, so
// the operands swap and the leading dimensions are the row strides.
#include <cublas_v2.h>

#include <stdexcept>
#include <string>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/launch.cuh"

namespace carnot::cuda_kernels {

namespace {

void check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("cuBLAS ") + what + " failed: " + cublasGetStatusName(s) + " (" +
                             cublasGetStatusString(s) + ")");
}

cublasHandle_t make_handle(cublasMath_t math) {
  cublasHandle_t made = nullptr;
  check(cublasCreate(&made), "cublasCreate");
  check(cublasSetMathMode(made, math), "cublasSetMathMode");
  check(cublasSetWorkspace(made, blas_workspace(), kBlasWorkspaceBytes), "cublasSetWorkspace");
  return made;
}

// fp32 stays fp32 (no TF32), so the twin tests hold to 1e-5 against the CPU.
cublasHandle_t handle() {
  static const cublasHandle_t h = make_handle(CUBLAS_PEDANTIC_MATH);
  return h;
}

// bf16's own handle in default math, so that nothing keeps it off the tensor cores. Deterministic
// all the same: cuBLAS adds no atomics unless asked.
cublasHandle_t bf16_handle() {
  static const cublasHandle_t h = make_handle(CUBLAS_DEFAULT_MATH);
  return h;
}

cublasStatus_t gemm_call(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float* alpha,
                         const float* a, int lda, long long sa, const float* b, int ldb, long long sb,
                         const float* beta, float* c, int ldc, long long sc, int count) {
  return cublasSgemmStridedBatched(handle(), ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, count);
}
cublasStatus_t gemm_call(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const double* alpha,
                         const double* a, int lda, long long sa, const double* b, int ldb, long long sb,
                         const double* beta, double* c, int ldc, long long sc, int count) {
  return cublasDgemmStridedBatched(handle(), ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, count);
}

}  // namespace

template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
          std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc, std::int64_t count,
          std::int64_t stride_a, std::int64_t stride_b, std::int64_t stride_c) {
  if (m <= 0 || n <= 0 || count <= 0) return;
  const cublasOperation_t ob = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, oa = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  check(gemm_call(ob, oa, int(n), int(m), int(k), &alpha, b, int(ldb), stride_b, a, int(lda), stride_a, &beta, c,
                  int(ldc), stride_c, int(count)),
        "gemm");
}

void gemm_bf16(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const void* a,
               std::int64_t lda, const void* b, std::int64_t ldb, float beta, void* c, std::int64_t ldc, bool c_float,
               std::int64_t count, std::int64_t stride_a, std::int64_t stride_b, std::int64_t stride_c) {
  if (m <= 0 || n <= 0 || count <= 0) return;
  const cublasOperation_t ob = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, oa = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  check(cublasGemmStridedBatchedEx(bf16_handle(), ob, oa, int(n), int(m), int(k), &alpha, b, CUDA_R_16BF, int(ldb),
                                   stride_b, a, CUDA_R_16BF, int(lda), stride_a, &beta, c,
                                   c_float ? CUDA_R_32F : CUDA_R_16BF, int(ldc), stride_c, int(count),
                                   CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "gemm (bf16)");
}

template void gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, float, const float*, std::int64_t,
                          const float*, std::int64_t, float, float*, std::int64_t, std::int64_t, std::int64_t,
                          std::int64_t, std::int64_t);
template void gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, double, const double*, std::int64_t,
                           const double*, std::int64_t, double, double*, std::int64_t, std::int64_t, std::int64_t,
                           std::int64_t, std::int64_t);

}  // namespace carnot::cuda_kernels
