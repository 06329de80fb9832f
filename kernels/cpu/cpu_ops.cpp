// The CPU op table: dispatches on dtype to the templated kernels.
#include <cstring>

#include "kernels/cpu/kernels.h"
#include "kernels/ops.h"

namespace carnot {

namespace {

// Calls fn(T{}) with T the C++ type of dt.
template <class Fn> auto dispatch(DType dt, Fn&& fn) {
  if (dt == DType::F64) return fn(double{});
  return fn(float{});
}

class CpuOps final : public Ops {
 public:
  void gemm(DType dt, bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k,
            double alpha, const void* a, std::int64_t lda, const void* b, std::int64_t ldb,
            double beta, void* c, std::int64_t ldc) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::gemm<T>(ta, tb, m, n, k, T(alpha), static_cast<const T*>(a), lda,
                   static_cast<const T*>(b), ldb, T(beta), static_cast<T*>(c), ldc);
    });
  }
  void add_bias(DType dt, std::int64_t rows, std::int64_t cols, const void* bias,
                void* y) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::add_bias<T>(rows, cols, static_cast<const T*>(bias), static_cast<T*>(y));
    });
  }
  void bias_grad(DType dt, std::int64_t rows, std::int64_t cols, const void* dy,
                 void* dbias) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::bias_grad<T>(rows, cols, static_cast<const T*>(dy), static_cast<T*>(dbias));
    });
  }
  void silu_forward(DType dt, std::int64_t n, const void* x, void* y) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::silu_forward<T>(n, static_cast<const T*>(x), static_cast<T*>(y));
    });
  }
  void silu_backward(DType dt, std::int64_t n, const void* x, const void* dy, void* dx) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::silu_backward<T>(n, static_cast<const T*>(x), static_cast<const T*>(dy),
                            static_cast<T*>(dx));
    });
  }
  void add(DType dt, std::int64_t n, const void* a, const void* b, void* y) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::add<T>(n, static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(y));
    });
  }
  void accumulate(DType dt, std::int64_t n, const void* x, void* y) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::accumulate<T>(n, static_cast<const T*>(x), static_cast<T*>(y));
    });
  }
  void scale(DType dt, std::int64_t n, double s, void* y) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::scale<T>(n, T(s), static_cast<T*>(y));
    });
  }
  void fill_zero(DType dt, std::int64_t n, void* y) override {
    std::memset(y, 0, std::size_t(n) * dtype_size(dt));
  }
  void timestep_embedding(DType dt, std::int64_t rows, std::int64_t dim, const float* t,
                          double max_period, void* out) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::timestep_embedding<T>(rows, dim, t, max_period, static_cast<T*>(out));
    });
  }
  double sum_squares(DType dt, std::int64_t n, const void* x) override {
    return dispatch(dt, [&](auto z) {
      using T = decltype(z);
      return cpu::sum_squares<T>(n, static_cast<const T*>(x));
    });
  }
  double mse_loss(DType dt, std::int64_t rows, std::int64_t cols, const void* pred,
                  const void* target, const float* row_weights, double grad_scale,
                  void* dpred) override {
    return dispatch(dt, [&](auto z) {
      using T = decltype(z);
      return cpu::mse_loss<T>(rows, cols, static_cast<const T*>(pred),
                              static_cast<const T*>(target), row_weights, grad_scale,
                              static_cast<T*>(dpred));
    });
  }
  void adamw_step(std::int64_t n, float* param, const float* grad, float* m, float* v, float lr,
                  float beta1, float beta2, float eps, float weight_decay,
                  std::int64_t step) override {
    cpu::adamw_step(n, param, grad, m, v, lr, beta1, beta2, eps, weight_decay, step);
  }
  void ema_update(std::int64_t n, float decay, const float* param, float* ema) override {
    cpu::ema_update(n, decay, param, ema);
  }
};

}  // namespace

Ops& cpu_ops() {
  static CpuOps ops;
  return ops;
}

}  // namespace carnot
