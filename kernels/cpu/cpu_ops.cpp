// The CPU op table: dispatches on dtype to the templated kernels.
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "kernels/bf16_widening.h"
#include "kernels/cpu/kernels.h"
#include "kernels/dispatch.h"
#include "kernels/ops.h"

namespace carnot {

namespace {

using namespace ops_dispatch;

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
  void relu_forward(DType dt, std::int64_t n, const void* x, void* y) override {
    dispatch(dt, [&](auto z) { cpu::relu_forward(n, in<decltype(z)>(x), out<decltype(z)>(y)); });
  }
  void relu_backward(DType dt, std::int64_t n, const void* x, const void* dy, void* dx) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::relu_backward(n, in<T>(x), in<T>(dy), out<T>(dx));
    });
  }
  void gelu_forward(DType dt, std::int64_t n, const void* x, void* y) override {
    dispatch(dt, [&](auto z) { cpu::gelu_forward(n, in<decltype(z)>(x), out<decltype(z)>(y)); });
  }
  void gelu_backward(DType dt, std::int64_t n, const void* x, const void* dy, void* dx) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::gelu_backward(n, in<T>(x), in<T>(dy), out<T>(dx));
    });
  }
  void layer_norm_forward(DType dt, std::int64_t rows, std::int64_t cols, double eps, const void* x, void* y,
                          void* mean, void* rstd) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::layer_norm_forward(rows, cols, eps, in<T>(x), out<T>(y), out<T>(mean), out<T>(rstd));
    });
  }
  void layer_norm_backward(DType dt, std::int64_t rows, std::int64_t cols, const void* x, const void* mean,
                           const void* rstd, const void* dy, void* dx) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::layer_norm_backward(rows, cols, in<T>(x), in<T>(mean), in<T>(rstd), in<T>(dy), out<T>(dx));
    });
  }
  void layer_norm_modulate_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, double eps,
                                   const void* x, const void* shift, const void* scale, std::int64_t mod_stride,
                                   void* y, void* mean, void* rstd) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::layer_norm_modulate_forward(batch, tokens, cols, eps, in<T>(x), in<T>(shift), in<T>(scale), mod_stride,
                                       out<T>(y), out<T>(mean), out<T>(rstd));
    });
  }
  void layer_norm_modulate_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols,
                                    const void* x, const void* mean, const void* rstd, const void* scale,
                                    std::int64_t mod_stride, const void* dy, void* dx, void* dshift,
                                    void* dscale, bool accumulate_dx) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::layer_norm_modulate_backward(batch, tokens, cols, in<T>(x), in<T>(mean), in<T>(rstd), in<T>(scale),
                                        mod_stride, in<T>(dy), out<T>(dx), out<T>(dshift), out<T>(dscale),
                                        accumulate_dx);
    });
  }
  void modulate_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, const void* x,
                        const void* shift, const void* scale, std::int64_t mod_stride, void* y) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::modulate_forward(batch, tokens, cols, in<T>(x), in<T>(shift), in<T>(scale), mod_stride, out<T>(y));
    });
  }
  void modulate_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, const void* x,
                         const void* scale, std::int64_t mod_stride, const void* dy, void* dx, void* dshift,
                         void* dscale) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::modulate_backward(batch, tokens, cols, in<T>(x), in<T>(scale), mod_stride, in<T>(dy), out<T>(dx),
                             out<T>(dshift), out<T>(dscale));
    });
  }
  void gated_residual_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, const void* x,
                              const void* h, const void* gate, std::int64_t mod_stride, void* y) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::gated_residual_forward(batch, tokens, cols, in<T>(x), in<T>(h), in<T>(gate), mod_stride, out<T>(y));
    });
  }
  void gated_residual_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, const void* h,
                               const void* gate, std::int64_t mod_stride, const void* dy, void* dh,
                               void* dgate) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::gated_residual_backward(batch, tokens, cols, in<T>(h), in<T>(gate), mod_stride, in<T>(dy), out<T>(dh),
                                   out<T>(dgate));
    });
  }
  void group_norm_forward(DType dt, std::int64_t batch, std::int64_t channels, std::int64_t hw, std::int64_t groups,
                          double eps, const void* x, const void* gamma, const void* beta, void* y, void* mean,
                          void* rstd) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::group_norm_forward(batch, channels, hw, groups, eps, in<T>(x), in<T>(gamma), in<T>(beta), out<T>(y),
                              out<T>(mean), out<T>(rstd));
    });
  }
  void group_norm_backward(DType dt, std::int64_t batch, std::int64_t channels, std::int64_t hw, std::int64_t groups,
                           const void* x, const void* gamma, const void* mean, const void* rstd, const void* dy,
                           void* dx, void* dgamma, void* dbeta) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::group_norm_backward(batch, channels, hw, groups, in<T>(x), in<T>(gamma), in<T>(mean), in<T>(rstd),
                               in<T>(dy), out<T>(dx), out<T>(dgamma), out<T>(dbeta));
    });
  }
  void attention_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t heads,
                         std::int64_t head_dim, const void* qkv, void* workspace, void* lse, void* o) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::attention_forward(batch, tokens, heads, head_dim, in<T>(qkv), out<T>(workspace), out<T>(lse), out<T>(o));
    });
  }
  void attention_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t heads,
                          std::int64_t head_dim, const void* qkv, const void* lse, const void* o, const void* dout,
                          void* workspace, void* dqkv) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::attention_backward(batch, tokens, heads, head_dim, in<T>(qkv), in<T>(lse), in<T>(o), in<T>(dout),
                              out<T>(workspace), out<T>(dqkv));
    });
  }
  void conv2d_forward(DType dt, const Conv2dShape& g, const void* x, const void* weight, const void* bias,
                      void* workspace, void* y) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::conv2d_forward(g, in<T>(x), in<T>(weight), in<T>(bias), out<T>(workspace), out<T>(y));
    });
  }
  void conv2d_backward(DType dt, const Conv2dShape& g, const void* x, const void* weight, const void* dy,
                       void* workspace, void* dx, void* dweight, void* dbias) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::conv2d_backward(g, in<T>(x), in<T>(weight), in<T>(dy), out<T>(workspace), out<T>(dx), out<T>(dweight),
                           out<T>(dbias));
    });
  }
  void add_per_plane(DType dt, std::int64_t planes, std::int64_t hw, const void* v, void* y) override {
    dispatch(dt, [&](auto z) { cpu::add_per_plane(planes, hw, in<decltype(z)>(v), out<decltype(z)>(y)); });
  }
  void sum_per_plane(DType dt, std::int64_t planes, std::int64_t hw, const void* dy, void* dv) override {
    dispatch(dt, [&](auto z) { cpu::sum_per_plane(planes, hw, in<decltype(z)>(dy), out<decltype(z)>(dv)); });
  }
  void dropout_forward(DType dt, std::int64_t rows, std::int64_t cols, double p, const DropoutKey& key, const void* x,
                       void* y, void* mask) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::dropout_forward(rows, cols, p, key, in<T>(x), out<T>(y), out<T>(mask));
    });
  }
  void dropout_backward(DType dt, std::int64_t n, const void* mask, const void* dy, void* dx) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::dropout_backward(n, in<T>(mask), in<T>(dy), out<T>(dx));
    });
  }
  void upsample2x_forward(DType dt, std::int64_t planes, std::int64_t h, std::int64_t w, const void* x,
                          void* y) override {
    dispatch(dt, [&](auto z) { cpu::upsample2x_forward(planes, h, w, in<decltype(z)>(x), out<decltype(z)>(y)); });
  }
  void upsample2x_backward(DType dt, std::int64_t planes, std::int64_t h, std::int64_t w, const void* dy,
                           void* dx) override {
    dispatch(dt, [&](auto z) { cpu::upsample2x_backward(planes, h, w, in<decltype(z)>(dy), out<decltype(z)>(dx)); });
  }
  void embedding_forward(DType dt, std::int64_t rows, std::int64_t dim, const void* table, std::int64_t, const std::int64_t* ids,
                         void* o) override {
    dispatch(dt, [&](auto z) { cpu::embedding_forward(rows, dim, in<decltype(z)>(table), ids, out<decltype(z)>(o)); });
  }
  void embedding_backward(DType dt, std::int64_t rows, std::int64_t dim, const std::int64_t* ids, const void* dout,
                          void* dtable, std::int64_t) override {
    dispatch(dt, [&](auto z) {
      cpu::embedding_backward(rows, dim, ids, in<decltype(z)>(dout), out<decltype(z)>(dtable));
    });
  }
  void transpose_batched(DType dt, std::int64_t batch, std::int64_t rows, std::int64_t cols, const void* x,
                         void* y) override {
    dispatch(dt, [&](auto z) { cpu::transpose_batched(batch, rows, cols, in<decltype(z)>(x), out<decltype(z)>(y)); });
  }
  void unpatchify(DType dt, std::int64_t batch, std::int64_t h, std::int64_t w, std::int64_t p, std::int64_t channels,
                  bool to_image, const void* x, void* y) override {
    dispatch(dt, [&](auto z) {
      cpu::unpatchify(batch, h, w, p, channels, to_image, in<decltype(z)>(x), out<decltype(z)>(y));
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
                          const SinusoidStyle& style, void* o) override {
    dispatch(dt, [&](auto z) { cpu::timestep_embedding(rows, dim, t, style, out<decltype(z)>(o)); });
  }
  void copy_blocks(DType dt, std::int64_t count, std::int64_t block, const void* src, std::int64_t src_stride,
                   void* dst, std::int64_t dst_stride, bool accumulate) override {
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      cpu::copy_blocks(count, block, in<T>(src), src_stride, out<T>(dst), dst_stride, accumulate);
    });
  }
  void convert(std::int64_t n, DType from, const void* x, DType to, void* y, bool accumulate) override {
    cpu::convert(n, from, x, to, y, accumulate);
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
  void sgd_step(std::int64_t n, float* param, const float* grad, float* buf, float lr, float momentum,
                float weight_decay, bool nesterov) override {
    cpu::sgd_step(n, param, grad, buf, lr, momentum, weight_decay, nesterov);
  }
  void ema_update(std::int64_t n, float decay, const float* param, float* ema) override {
    cpu::ema_update(n, decay, param, ema);
  }
  void q_sample_eps(const double* abar, int steps, std::uint64_t seed, std::uint32_t step, std::uint32_t first,
                    std::int64_t n, std::int64_t dim, const float* x0, float* t, float* eps, float* x_t) override {
    cpu::q_sample_eps(abar, steps, seed, step, first, n, dim, x0, t, eps, x_t);
  }
};

void* host_alloc(std::size_t bytes) {
  void* p = std::malloc(bytes);
  if (!p) throw std::bad_alloc();
  return p;
}

}  // namespace

Ops& cpu_ops() {
  static CpuOps float_ops;  // float32 and float64; bf16 by widening to float32
  static const std::unique_ptr<Ops> ops = make_bf16_widening(float_ops, ScratchMemory{host_alloc, std::free});
  return *ops;
}

}  // namespace carnot
