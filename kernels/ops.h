// The op table: every numerical operation the framework needs, one virtual per op.
// kernels/cpu implements it (the numerical oracle); kernels/cuda will implement the same table.
// Arguments are raw pointers, element counts and a dtype; matrices are row-major.
#pragma once
#include <cstdint>

#include "kernels/dtype.h"

namespace carnot {

class Ops {
 public:
  virtual ~Ops() = default;

  // C[m,n] = alpha * op(A) op(B) + beta * C, op(A) is m×k, op(B) is k×n; lda/ldb/ldc are row strides.
  virtual void gemm(DType dt, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n,
                    std::int64_t k, double alpha, const void* a, std::int64_t lda, const void* b,
                    std::int64_t ldb, double beta, void* c, std::int64_t ldc) = 0;

  // y[r, c] += bias[c] for a rows×cols matrix.
  virtual void add_bias(DType dt, std::int64_t rows, std::int64_t cols, const void* bias,
                        void* y) = 0;
  // dbias[c] += sum over rows of dy[r, c].
  virtual void bias_grad(DType dt, std::int64_t rows, std::int64_t cols, const void* dy,
                         void* dbias) = 0;

  // y = x * sigmoid(x), and dx = dy * silu'(x) (dx may alias dy).
  virtual void silu_forward(DType dt, std::int64_t n, const void* x, void* y) = 0;
  virtual void silu_backward(DType dt, std::int64_t n, const void* x, const void* dy,
                             void* dx) = 0;

  // y = a + b (y may alias a or b); y += x; y *= s; y = 0.
  virtual void add(DType dt, std::int64_t n, const void* a, const void* b, void* y) = 0;
  virtual void accumulate(DType dt, std::int64_t n, const void* x, void* y) = 0;
  virtual void scale(DType dt, std::int64_t n, double s, void* y) = 0;
  virtual void fill_zero(DType dt, std::int64_t n, void* y) = 0;

  // Sinusoidal embedding of times t[rows] into out[rows, dim]: [cos(t f_k), sin(t f_k)],
  // f_k = max_period^(-k / (dim/2)), as DiT and the DDPM codebases do.
  virtual void timestep_embedding(DType dt, std::int64_t rows, std::int64_t dim,
                                  const float* t, double max_period, void* out) = 0;

  // Sum of squares, accumulated in float64.
  virtual double sum_squares(DType dt, std::int64_t n, const void* x) = 0;

  // Squared-error loss of prediction against target, per row averaged over cols and weighted by
  // w_r (1 when row_weights is null): returns sum_r w_r mean_c (p - y)^2 and writes
  // dpred = grad_scale * w_r * 2 (p - y) / cols (when dpred is not null).
  virtual double mse_loss(DType dt, std::int64_t rows, std::int64_t cols, const void* pred,
                          const void* target, const float* row_weights, double grad_scale,
                          void* dpred) = 0;

  // One AdamW step on fp32 buffers (PyTorch's algorithm: decoupled decay, bias correction).
  virtual void adamw_step(std::int64_t n, float* param, const float* grad, float* m, float* v,
                          float lr, float beta1, float beta2, float eps, float weight_decay,
                          std::int64_t step) = 0;

  // ema = decay * ema + (1 - decay) * param.
  virtual void ema_update(std::int64_t n, float decay, const float* param, float* ema) = 0;
};

// The CPU implementation (always present).
Ops& cpu_ops();

}  // namespace carnot
