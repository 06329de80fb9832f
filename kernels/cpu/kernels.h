// CPU kernels: plain loops over raw pointers (and OpenBLAS for GEMM), templated on float/double.
// They are the numerical oracle that CUDA kernels are tested against.
#pragma once
#include <cstdint>

namespace carnot::cpu {

template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
          const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
          std::int64_t ldc);

template <class T> void add_bias(std::int64_t rows, std::int64_t cols, const T* bias, T* y);
template <class T> void bias_grad(std::int64_t rows, std::int64_t cols, const T* dy, T* dbias);

template <class T> void silu_forward(std::int64_t n, const T* x, T* y);
template <class T> void silu_backward(std::int64_t n, const T* x, const T* dy, T* dx);

template <class T> void add(std::int64_t n, const T* a, const T* b, T* y);
template <class T> void accumulate(std::int64_t n, const T* x, T* y);
template <class T> void scale(std::int64_t n, T s, T* y);

template <class T>
void timestep_embedding(std::int64_t rows, std::int64_t dim, const float* t, double max_period,
                        T* out);

template <class T> double sum_squares(std::int64_t n, const T* x);

template <class T>
double mse_loss(std::int64_t rows, std::int64_t cols, const T* pred, const T* target,
                const float* row_weights, double grad_scale, T* dpred);

void adamw_step(std::int64_t n, float* param, const float* grad, float* m, float* v, float lr,
                float beta1, float beta2, float eps, float weight_decay, std::int64_t step);

void ema_update(std::int64_t n, float decay, const float* param, float* ema);

}  // namespace carnot::cpu
