// An op table that forwards every op to another and brackets each call with begin(op) and end(op):
// the guarded device opens its memory there (framework/debug/guarded_device.cpp), the op profiler
// times the op (framework/debug/op_profiler.h). Forwarding by nature: one method per op.
#pragma once
#include <cstdint>

#include "kernels/ops.h"

namespace carnot {

class ForwardingOps : public Ops {
 public:
  explicit ForwardingOps(Ops& inner) : inner_(inner) {}
  bool on_gpu() const override { return inner_.on_gpu(); }
  void synchronize() override { inner_.synchronize(); }
  bool native_bf16(const char* op) const override { return inner_.native_bf16(op); }

  void linear_forward(DType dt, std::int64_t rows, std::int64_t in, std::int64_t out, const void* x, const void* w,
                      const void* bias, Epilogue epilogue, void* pre, void* y) override {
    const Bracket bracket(*this, "linear_forward");
    inner_.linear_forward(dt, rows, in, out, x, w, bias, epilogue, pre, y);
  }
  void linear_backward_input(DType dt, std::int64_t rows, std::int64_t in, std::int64_t out, const void* dy,
                             const void* w, const void* gelu_pre, void* dx, void* dbias_pre) override {
    const Bracket bracket(*this, "linear_backward_input");
    inner_.linear_backward_input(dt, rows, in, out, dy, w, gelu_pre, dx, dbias_pre);
  }
  void gemm(DType dt, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
            const void* a, std::int64_t lda, const void* b, std::int64_t ldb, double beta, void* c,
            std::int64_t ldc) override {
    const Bracket bracket(*this, "gemm");
    inner_.gemm(dt, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  void add_bias(DType dt, std::int64_t rows, std::int64_t cols, const void* bias, void* y) override {
    const Bracket bracket(*this, "add_bias");
    inner_.add_bias(dt, rows, cols, bias, y);
  }
  void bias_grad(DType dt, std::int64_t rows, std::int64_t cols, const void* dy, void* dbias) override {
    const Bracket bracket(*this, "bias_grad");
    inner_.bias_grad(dt, rows, cols, dy, dbias);
  }
  void silu_forward(DType dt, std::int64_t n, const void* x, void* y) override {
    const Bracket bracket(*this, "silu_forward");
    inner_.silu_forward(dt, n, x, y);
  }
  void silu_backward(DType dt, std::int64_t n, const void* x, const void* dy, void* dx) override {
    const Bracket bracket(*this, "silu_backward");
    inner_.silu_backward(dt, n, x, dy, dx);
  }
  void relu_forward(DType dt, std::int64_t n, const void* x, void* y) override {
    const Bracket bracket(*this, "relu_forward");
    inner_.relu_forward(dt, n, x, y);
  }
  void relu_backward(DType dt, std::int64_t n, const void* x, const void* dy, void* dx) override {
    const Bracket bracket(*this, "relu_backward");
    inner_.relu_backward(dt, n, x, dy, dx);
  }
  void gelu_forward(DType dt, std::int64_t n, const void* x, void* y) override {
    const Bracket bracket(*this, "gelu_forward");
    inner_.gelu_forward(dt, n, x, y);
  }
  void gelu_backward(DType dt, std::int64_t n, const void* x, const void* dy, void* dx) override {
    const Bracket bracket(*this, "gelu_backward");
    inner_.gelu_backward(dt, n, x, dy, dx);
  }
  void layer_norm_forward(DType dt, std::int64_t rows, std::int64_t cols, double eps, const void* x, void* y,
                          void* mean, void* rstd) override {
    const Bracket bracket(*this, "layer_norm_forward");
    inner_.layer_norm_forward(dt, rows, cols, eps, x, y, mean, rstd);
  }
  void layer_norm_backward(DType dt, std::int64_t rows, std::int64_t cols, const void* x, const void* mean,
                           const void* rstd, const void* dy, void* dx) override {
    const Bracket bracket(*this, "layer_norm_backward");
    inner_.layer_norm_backward(dt, rows, cols, x, mean, rstd, dy, dx);
  }
  void layer_norm_modulate_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, double eps,
                                   const void* x, const void* shift, const void* scale, std::int64_t mod_stride,
                                   void* y, void* mean, void* rstd) override {
    const Bracket bracket(*this, "layer_norm_modulate_forward");
    inner_.layer_norm_modulate_forward(dt, batch, tokens, cols, eps, x, shift, scale, mod_stride, y, mean, rstd);
  }
  void layer_norm_modulate_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols,
                                    const void* x, const void* mean, const void* rstd, const void* scale,
                                    std::int64_t mod_stride, const void* dy, void* dx, void* dshift,
                                    void* dscale, bool accumulate_dx) override {
    const Bracket bracket(*this, "layer_norm_modulate_backward");
    inner_.layer_norm_modulate_backward(dt, batch, tokens, cols, x, mean, rstd, scale, mod_stride, dy, dx, dshift,
                                        dscale, accumulate_dx);
  }
  void modulate_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, const void* x,
                        const void* shift, const void* scale, std::int64_t mod_stride, void* y) override {
    const Bracket bracket(*this, "modulate_forward");
    inner_.modulate_forward(dt, batch, tokens, cols, x, shift, scale, mod_stride, y);
  }
  void modulate_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, const void* x,
                         const void* scale, std::int64_t mod_stride, const void* dy, void* dx, void* dshift,
                         void* dscale) override {
    const Bracket bracket(*this, "modulate_backward");
    inner_.modulate_backward(dt, batch, tokens, cols, x, scale, mod_stride, dy, dx, dshift, dscale);
  }
  void gated_residual_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, const void* x,
                              const void* h, const void* gate, std::int64_t mod_stride, void* y) override {
    const Bracket bracket(*this, "gated_residual_forward");
    inner_.gated_residual_forward(dt, batch, tokens, cols, x, h, gate, mod_stride, y);
  }
  void gated_residual_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, const void* h,
                               const void* gate, std::int64_t mod_stride, const void* dy, void* dh,
                               void* dgate) override {
    const Bracket bracket(*this, "gated_residual_backward");
    inner_.gated_residual_backward(dt, batch, tokens, cols, h, gate, mod_stride, dy, dh, dgate);
  }
  void group_norm_forward(DType dt, std::int64_t batch, std::int64_t channels, std::int64_t hw, std::int64_t groups,
                          double eps, const void* x, const void* gamma, const void* beta, void* y, void* mean,
                          void* rstd) override {
    const Bracket bracket(*this, "group_norm_forward");
    inner_.group_norm_forward(dt, batch, channels, hw, groups, eps, x, gamma, beta, y, mean, rstd);
  }
  void group_norm_backward(DType dt, std::int64_t batch, std::int64_t channels, std::int64_t hw, std::int64_t groups,
                           const void* x, const void* gamma, const void* mean, const void* rstd, const void* dy,
                           void* dx, void* dgamma, void* dbeta) override {
    const Bracket bracket(*this, "group_norm_backward");
    inner_.group_norm_backward(dt, batch, channels, hw, groups, x, gamma, mean, rstd, dy, dx, dgamma, dbeta);
  }
  void attention_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim,
                         const void* qkv, void* workspace, void* lse, void* out) override {
    const Bracket bracket(*this, "attention_forward");
    inner_.attention_forward(dt, batch, tokens, heads, head_dim, qkv, workspace, lse, out);
  }
  void attention_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim,
                          const void* qkv, const void* lse, const void* out, const void* dout, void* workspace,
                          void* dqkv) override {
    const Bracket bracket(*this, "attention_backward");
    inner_.attention_backward(dt, batch, tokens, heads, head_dim, qkv, lse, out, dout, workspace, dqkv);
  }
  void conv2d_forward(DType dt, const Conv2dShape& g, const void* x, const void* weight, const void* bias,
                      void* workspace, void* y) override {
    const Bracket bracket(*this, "conv2d_forward");
    inner_.conv2d_forward(dt, g, x, weight, bias, workspace, y);
  }
  void conv2d_backward(DType dt, const Conv2dShape& g, const void* x, const void* weight, const void* dy,
                       void* workspace, void* dx, void* dweight, void* dbias) override {
    const Bracket bracket(*this, "conv2d_backward");
    inner_.conv2d_backward(dt, g, x, weight, dy, workspace, dx, dweight, dbias);
  }
  void add_per_plane(DType dt, std::int64_t planes, std::int64_t hw, const void* v, void* y) override {
    const Bracket bracket(*this, "add_per_plane");
    inner_.add_per_plane(dt, planes, hw, v, y);
  }
  void sum_per_plane(DType dt, std::int64_t planes, std::int64_t hw, const void* dy, void* dv) override {
    const Bracket bracket(*this, "sum_per_plane");
    inner_.sum_per_plane(dt, planes, hw, dy, dv);
  }
  void dropout_forward(DType dt, std::int64_t rows, std::int64_t cols, double p, const DropoutKey& key, const void* x,
                       void* y, void* mask) override {
    const Bracket bracket(*this, "dropout_forward");
    inner_.dropout_forward(dt, rows, cols, p, key, x, y, mask);
  }
  void dropout_backward(DType dt, std::int64_t n, const void* mask, const void* dy, void* dx) override {
    const Bracket bracket(*this, "dropout_backward");
    inner_.dropout_backward(dt, n, mask, dy, dx);
  }
  void upsample2x_forward(DType dt, std::int64_t planes, std::int64_t h, std::int64_t w, const void* x,
                          void* y) override {
    const Bracket bracket(*this, "upsample2x_forward");
    inner_.upsample2x_forward(dt, planes, h, w, x, y);
  }
  void upsample2x_backward(DType dt, std::int64_t planes, std::int64_t h, std::int64_t w, const void* dy,
                           void* dx) override {
    const Bracket bracket(*this, "upsample2x_backward");
    inner_.upsample2x_backward(dt, planes, h, w, dy, dx);
  }
  void embedding_forward(DType dt, std::int64_t rows, std::int64_t dim, const void* table,
                         std::int64_t table_rows, const std::int64_t* ids,
                         void* out) override {
    const Bracket bracket(*this, "embedding_forward");
    inner_.embedding_forward(dt, rows, dim, table, table_rows, ids, out);
  }
  void embedding_backward(DType dt, std::int64_t rows, std::int64_t dim, const std::int64_t* ids, const void* dout,
                          void* dtable, std::int64_t table_rows) override {
    const Bracket bracket(*this, "embedding_backward");
    inner_.embedding_backward(dt, rows, dim, ids, dout, dtable, table_rows);
  }
  void transpose_batched(DType dt, std::int64_t batch, std::int64_t rows, std::int64_t cols, const void* x,
                         void* y) override {
    const Bracket bracket(*this, "transpose_batched");
    inner_.transpose_batched(dt, batch, rows, cols, x, y);
  }
  void unpatchify(DType dt, std::int64_t batch, std::int64_t h, std::int64_t w, std::int64_t p, std::int64_t channels,
                  bool to_image, const void* in, void* out) override {
    const Bracket bracket(*this, "unpatchify");
    inner_.unpatchify(dt, batch, h, w, p, channels, to_image, in, out);
  }
  void copy_blocks(DType dt, std::int64_t count, std::int64_t block, const void* src, std::int64_t src_stride,
                   void* dst, std::int64_t dst_stride, bool accumulate) override {
    const Bracket bracket(*this, "copy_blocks");
    inner_.copy_blocks(dt, count, block, src, src_stride, dst, dst_stride, accumulate);
  }
  void add(DType dt, std::int64_t n, const void* a, const void* b, void* y) override {
    const Bracket bracket(*this, "add");
    inner_.add(dt, n, a, b, y);
  }
  void accumulate(DType dt, std::int64_t n, const void* x, void* y) override {
    const Bracket bracket(*this, "accumulate");
    inner_.accumulate(dt, n, x, y);
  }
  void scale(DType dt, std::int64_t n, double s, void* y) override {
    const Bracket bracket(*this, "scale");
    inner_.scale(dt, n, s, y);
  }
  void fill_zero(DType dt, std::int64_t n, void* y) override {
    const Bracket bracket(*this, "fill_zero");
    inner_.fill_zero(dt, n, y);
  }
  void timestep_embedding(DType dt, std::int64_t rows, std::int64_t dim, const float* t, const SinusoidStyle& style,
                          void* out) override {
    const Bracket bracket(*this, "timestep_embedding");
    inner_.timestep_embedding(dt, rows, dim, t, style, out);
  }
  void convert(std::int64_t n, DType from, const void* x, DType to, void* y, bool accumulate) override {
    const Bracket bracket(*this, "convert");
    inner_.convert(n, from, x, to, y, accumulate);
  }
  double sum_squares(DType dt, std::int64_t n, const void* x) override {
    const Bracket bracket(*this, "sum_squares");
    return inner_.sum_squares(dt, n, x);
  }
  double mse_loss(DType dt, std::int64_t rows, std::int64_t cols, const void* pred, const void* target,
                  const float* row_weights, double grad_scale, void* dpred) override {
    const Bracket bracket(*this, "mse_loss");
    return inner_.mse_loss(dt, rows, cols, pred, target, row_weights, grad_scale, dpred);
  }
  void adamw_step(std::int64_t n, float* param, const float* grad, float* m, float* v, float lr, float beta1,
                  float beta2, float eps, float weight_decay, std::int64_t step) override {
    const Bracket bracket(*this, "adamw_step");
    inner_.adamw_step(n, param, grad, m, v, lr, beta1, beta2, eps, weight_decay, step);
  }
  void sgd_step(std::int64_t n, float* param, const float* grad, float* buf, float lr, float momentum,
                float weight_decay, bool nesterov) override {
    const Bracket bracket(*this, "sgd_step");
    inner_.sgd_step(n, param, grad, buf, lr, momentum, weight_decay, nesterov);
  }
  void ema_update(std::int64_t n, float decay, const float* param, float* ema) override {
    const Bracket bracket(*this, "ema_update");
    inner_.ema_update(n, decay, param, ema);
  }
  void adamw_ema_step(std::int64_t n, float* param, float* grad, double grad_scale, float* m, float* v, float lr,
                      float beta1, float beta2, float eps, float weight_decay, std::int64_t step, float* ema,
                      float ema_decay, void* param_bf16) override {
    const Bracket bracket(*this, "adamw_ema_step");
    inner_.adamw_ema_step(n, param, grad, grad_scale, m, v, lr, beta1, beta2, eps, weight_decay, step, ema, ema_decay,
                          param_bf16);
  }
  void q_sample_eps(const double* alphas_cumprod, int steps, std::uint64_t seed, std::uint32_t step,
                    std::uint32_t first, std::int64_t n, std::int64_t dim, const float* x0, float* t, float* eps,
                    float* x_t) override {
    const Bracket bracket(*this, "q_sample_eps");
    inner_.q_sample_eps(alphas_cumprod, steps, seed, step, first, n, dim, x0, t, eps, x_t);
  }

 protected:
  // Around each forwarded op (end also when it throws).
  virtual void begin(const char* op) { (void)op; }
  virtual void end(const char* op) { (void)op; }

  Ops& inner_;

 private:
  class Bracket {
   public:
    Bracket(ForwardingOps& ops, const char* op) : ops_(ops), op_(op) { ops_.begin(op_); }
    ~Bracket() { ops_.end(op_); }
    Bracket(const Bracket&) = delete;
    Bracket& operator=(const Bracket&) = delete;

   private:
    ForwardingOps& ops_;
    const char* op_;
  };
};

}  // namespace carnot
