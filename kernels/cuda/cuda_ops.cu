// The op table on the GPU: each op dispatches on its dtype to the kernels of kernels.cuh.
#include <algorithm>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "kernels/bf16_widening.h"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_runtime.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/kernels.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/q_sample.h"
#include "kernels/dispatch.h"

namespace carnot {

namespace {

namespace k = cuda_kernels;
using namespace ops_dispatch;


// dispatch, with bf16 (__nv_bfloat16, computing in float) for the ops that have bf16 kernels.
template <class Fn> auto dispatch_bf16(DType dt, Fn&& fn) {
  if (dt == DType::BF16) return fn(__nv_bfloat16{});
  return dispatch(dt, std::forward<Fn>(fn));
}

// The ops with bf16 kernels of their own, sorted: every bf16 call through the widening adapter asks
// (kernels/bf16_widening.h), so the lookup is a binary search.
bool has_bf16_kernel(std::string_view op) {
  static constexpr std::string_view kOps[] = {
      "accumulate",          "add",                     "add_bias",
      "add_per_plane",       "attention_backward",      "attention_forward",
      "bias_grad",           "conv2d_backward",         "conv2d_forward",
      "copy_blocks",         "dropout_backward",        "dropout_forward",
      "embedding_backward",  "embedding_forward",       "gated_residual_backward",
      "gated_residual_forward", "gelu_backward",        "gelu_forward",
      "gemm",                "group_norm_backward",     "group_norm_forward",
      "layer_norm_backward", "layer_norm_forward",      "layer_norm_modulate_backward",
      "layer_norm_modulate_forward", "linear_backward_input", "linear_forward",
      "modulate_backward",   "modulate_forward",        "relu_backward",
      "relu_forward",        "scale",                   "silu_backward",
      "silu_forward",        "sum_per_plane",           "timestep_embedding",
      "transpose_batched",   "unpatchify",              "upsample2x_backward",
      "upsample2x_forward"};
  static const bool sorted = std::is_sorted(std::begin(kOps), std::end(kOps));  // .cu is C++17: no constexpr sort check
  if (!sorted) throw std::logic_error("cuda_ops.cu: the bf16 op list must stay sorted");
  return std::binary_search(std::begin(kOps), std::end(kOps), op);
}

class CudaOps final : public Ops {
 public:
  bool on_gpu() const override { return true; }
  bool native_bf16(const char* op) const override { return has_bf16_kernel(op); }
  void synchronize() override { CARNOT_CUDA_CHECK(cudaDeviceSynchronize()); }
  void gemm(DType dt, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t kk, double alpha,
            const void* a, std::int64_t lda, const void* b, std::int64_t ldb, double beta, void* c,
            std::int64_t ldc) override {
    if (dt == DType::BF16)
      return k::gemm_bf16(trans_a, trans_b, m, n, kk, float(alpha), a, lda, b, ldb, float(beta), c, ldc);
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      k::gemm<T>(trans_a, trans_b, m, n, kk, T(alpha), in<T>(a), lda, in<T>(b), ldb, T(beta), out<T>(c), ldc);
    });
  }
  void linear_forward(DType dt, std::int64_t rows, std::int64_t in, std::int64_t out, const void* x, const void* w,
                      const void* bias, Epilogue epilogue, void* pre, void* y) override {
    if (dt == DType::BF16 && !k::plain_kernels_only() &&
        k::linear_bf16_lt(rows, in, out, x, w, bias, epilogue == Epilogue::kBiasGelu, pre, y))
      return;
    Ops::linear_forward(dt, rows, in, out, x, w, bias, epilogue, pre, y);
  }
  void linear_backward_input(DType dt, std::int64_t rows, std::int64_t in, std::int64_t out, const void* dy,
                             const void* w, const void* gelu_pre, void* dx, void* dbias_pre) override {
    if (dt == DType::BF16 && !k::plain_kernels_only() &&
        k::linear_backward_input_bf16_lt(rows, in, out, dy, w, gelu_pre, dx, dbias_pre))
      return;
    Ops::linear_backward_input(dt, rows, in, out, dy, w, gelu_pre, dx, dbias_pre);
  }
  void add_bias(DType dt, std::int64_t rows, std::int64_t cols, const void* bias, void* y) override {
    dispatch_bf16(dt, [&](auto z) { using T = decltype(z); k::add_bias<T>(rows, cols, in<T>(bias), out<T>(y)); });
  }
  void bias_grad(DType dt, std::int64_t rows, std::int64_t cols, const void* dy, void* dbias) override {
    dispatch_bf16(dt, [&](auto z) { using T = decltype(z); k::bias_grad<T>(rows, cols, in<T>(dy), out<T>(dbias)); });
  }
  void silu_forward(DType dt, std::int64_t n, const void* x, void* y) override {
    dispatch_bf16(dt, [&](auto z) { using T = decltype(z); k::silu_forward<T>(n, in<T>(x), out<T>(y)); });
  }
  void silu_backward(DType dt, std::int64_t n, const void* x, const void* dy, void* dx) override {
    dispatch_bf16(dt, [&](auto z) { using T = decltype(z); k::silu_backward<T>(n, in<T>(x), in<T>(dy), out<T>(dx)); });
  }
  void relu_forward(DType dt, std::int64_t n, const void* x, void* y) override {
    dispatch_bf16(dt, [&](auto z) { using T = decltype(z); k::relu_forward<T>(n, in<T>(x), out<T>(y)); });
  }
  void relu_backward(DType dt, std::int64_t n, const void* x, const void* dy, void* dx) override {
    dispatch_bf16(dt, [&](auto z) { using T = decltype(z); k::relu_backward<T>(n, in<T>(x), in<T>(dy), out<T>(dx)); });
  }
  void gelu_forward(DType dt, std::int64_t n, const void* x, void* y) override {
    dispatch_bf16(dt, [&](auto z) { using T = decltype(z); k::gelu_forward<T>(n, in<T>(x), out<T>(y)); });
  }
  void gelu_backward(DType dt, std::int64_t n, const void* x, const void* dy, void* dx) override {
    dispatch_bf16(dt, [&](auto z) { using T = decltype(z); k::gelu_backward<T>(n, in<T>(x), in<T>(dy), out<T>(dx)); });
  }
  void layer_norm_forward(DType dt, std::int64_t rows, std::int64_t cols, double eps, const void* x, void* y,
                          void* mean, void* rstd) override {
    dispatch_bf16(dt, [&](auto z) {
      using T = decltype(z);
      k::layer_norm_forward<T>(rows, cols, eps, in<T>(x), out<T>(y), out<k::compute_t<T>>(mean), out<k::compute_t<T>>(rstd));
    });
  }
  void layer_norm_backward(DType dt, std::int64_t rows, std::int64_t cols, const void* x, const void* mean,
                           const void* rstd, const void* dy, void* dx) override {
    dispatch_bf16(dt, [&](auto z) {
      using T = decltype(z);
      k::layer_norm_backward<T>(rows, cols, in<T>(x), in<k::compute_t<T>>(mean), in<k::compute_t<T>>(rstd), in<T>(dy), out<T>(dx));
    });
  }
  void layer_norm_modulate_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, double eps,
                                   const void* x, const void* shift, const void* scale, std::int64_t mod_stride,
                                   void* y, void* mean, void* rstd) override {
    dispatch_bf16(dt, [&](auto z) {
      using T = decltype(z);
      using S = k::compute_t<T>;
      k::layer_norm_modulate_forward<T>(batch, tokens, cols, eps, in<T>(x), in<T>(shift), in<T>(scale), mod_stride,
                                        out<T>(y), out<S>(mean), out<S>(rstd));
    });
  }
  void layer_norm_modulate_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols,
                                    const void* x, const void* mean, const void* rstd, const void* scale,
                                    std::int64_t mod_stride, const void* dy, void* dx, void* dshift,
                                    void* dscale, bool accumulate_dx) override {
    dispatch_bf16(dt, [&](auto z) {
      using T = decltype(z);
      using S = k::compute_t<T>;
      k::layer_norm_modulate_backward<T>(batch, tokens, cols, in<T>(x), in<S>(mean), in<S>(rstd), in<T>(scale),
                                         mod_stride, in<T>(dy), out<T>(dx), out<T>(dshift), out<T>(dscale),
                                         accumulate_dx);
    });
  }
  void modulate_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, const void* x,
                        const void* shift, const void* scale, std::int64_t mod_stride, void* y) override {
    dispatch_bf16(dt, [&](auto z) {
      using T = decltype(z);
      k::modulate_forward<T>(batch, tokens, cols, in<T>(x), in<T>(shift), in<T>(scale), mod_stride, out<T>(y));
    });
  }
  void modulate_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, const void* x,
                         const void* scale, std::int64_t mod_stride, const void* dy, void* dx, void* dshift,
                         void* dscale) override {
    dispatch_bf16(dt, [&](auto z) {
      using T = decltype(z);
      k::modulate_backward<T>(batch, tokens, cols, in<T>(x), in<T>(scale), mod_stride, in<T>(dy), out<T>(dx),
                              out<T>(dshift), out<T>(dscale));
    });
  }
  void gated_residual_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, const void* x,
                              const void* h, const void* gate, std::int64_t mod_stride, void* y) override {
    dispatch_bf16(dt, [&](auto z) {
      using T = decltype(z);
      k::gated_residual_forward<T>(batch, tokens, cols, in<T>(x), in<T>(h), in<T>(gate), mod_stride, out<T>(y));
    });
  }
  void gated_residual_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, const void* h,
                               const void* gate, std::int64_t mod_stride, const void* dy, void* dh,
                               void* dgate) override {
    dispatch_bf16(dt, [&](auto z) {
      using T = decltype(z);
      k::gated_residual_backward<T>(batch, tokens, cols, in<T>(h), in<T>(gate), mod_stride, in<T>(dy), out<T>(dh),
                                    out<T>(dgate));
    });
  }
  void group_norm_forward(DType dt, std::int64_t batch, std::int64_t channels, std::int64_t hw, std::int64_t groups,
                          double eps, const void* x, const void* gamma, const void* beta, void* y, void* mean,
                          void* rstd) override {
    dispatch_bf16(dt, [&](auto z) {
      using T = decltype(z);
      using S = k::compute_t<T>;
      k::group_norm_forward<T>(batch, channels, hw, groups, eps, in<T>(x), in<T>(gamma), in<T>(beta), out<T>(y),
                               out<S>(mean), out<S>(rstd));
    });
  }
  void group_norm_backward(DType dt, std::int64_t batch, std::int64_t channels, std::int64_t hw, std::int64_t groups,
                           const void* x, const void* gamma, const void* mean, const void* rstd, const void* dy,
                           void* dx, void* dgamma, void* dbeta) override {
    dispatch_bf16(dt, [&](auto z) {
      using T = decltype(z);
      using S = k::compute_t<T>;
      k::group_norm_backward<T>(batch, channels, hw, groups, in<T>(x), in<T>(gamma), in<S>(mean), in<S>(rstd),
                                in<T>(dy), out<T>(dx), out<T>(dgamma), out<T>(dbeta));
    });
  }
  void attention_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim,
                         const void* qkv, void* /*workspace*/, void* lse, void* o) override {
    dispatch_bf16(dt, [&](auto z) {
      using T = decltype(z);
      k::attention_forward<T>(batch, tokens, heads, head_dim, in<T>(qkv), out<k::compute_t<T>>(lse), out<T>(o));
    });
  }
  void attention_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim,
                          const void* qkv, const void* lse, const void* o, const void* dout, void* /*workspace*/,
                          void* dqkv) override {
    dispatch_bf16(dt, [&](auto z) {
      using T = decltype(z);
      k::attention_backward<T>(batch, tokens, heads, head_dim, in<T>(qkv), in<k::compute_t<T>>(lse), in<T>(o),
                               in<T>(dout), out<T>(dqkv));
    });
  }
  void conv2d_forward(DType dt, const Conv2dShape& g, const void* x, const void* weight, const void* bias,
                      void* workspace, void* y) override {
    if (!k::plain_kernels_only() && k::cudnn_conv2d_forward(dt, g, x, weight, bias, y)) return;
    if (dt == DType::BF16) return k::conv2d_bf16_via_float_forward(g, x, weight, bias, y);
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      k::conv2d_forward<T>(g, in<T>(x), in<T>(weight), in<T>(bias), out<T>(workspace), out<T>(y));
    });
  }
  void conv2d_backward(DType dt, const Conv2dShape& g, const void* x, const void* weight, const void* dy,
                       void* workspace, void* dx, void* dweight, void* dbias) override {
    if (!k::plain_kernels_only() && k::cudnn_conv2d_backward(dt, g, x, weight, dy, dx, dweight, dbias)) return;
    if (dt == DType::BF16) return k::conv2d_bf16_via_float_backward(g, x, weight, dy, dx, dweight, dbias);
    dispatch(dt, [&](auto z) {
      using T = decltype(z);
      k::conv2d_backward<T>(g, in<T>(x), in<T>(weight), in<T>(dy), out<T>(workspace), out<T>(dx), out<T>(dweight),
                            out<T>(dbias));
    });
  }
  void add_per_plane(DType dt, std::int64_t planes, std::int64_t hw, const void* v, void* y) override {
    dispatch_bf16(dt, [&](auto z) { using T = decltype(z); k::add_per_plane<T>(planes, hw, in<T>(v), out<T>(y)); });
  }
  void sum_per_plane(DType dt, std::int64_t planes, std::int64_t hw, const void* dy, void* dv) override {
    dispatch_bf16(dt, [&](auto z) { using T = decltype(z); k::sum_per_plane<T>(planes, hw, in<T>(dy), out<T>(dv)); });
  }
  void dropout_forward(DType dt, std::int64_t rows, std::int64_t cols, double p, const DropoutKey& key, const void* x,
                       void* y, void* mask) override {
    dispatch_bf16(dt, [&](auto z) {
      using T = decltype(z);
      k::dropout_forward<T>(rows, cols, p, key, in<T>(x), out<T>(y), out<T>(mask));
    });
  }
  void dropout_backward(DType dt, std::int64_t n, const void* mask, const void* dy, void* dx) override {
    dispatch_bf16(dt, [&](auto z) { using T = decltype(z); k::dropout_backward<T>(n, in<T>(mask), in<T>(dy), out<T>(dx)); });
  }
  void upsample2x_forward(DType dt, std::int64_t planes, std::int64_t h, std::int64_t w, const void* x,
                          void* y) override {
    dispatch_bf16(dt, [&](auto z) { using T = decltype(z); k::upsample2x_forward<T>(planes, h, w, in<T>(x), out<T>(y)); });
  }
  void upsample2x_backward(DType dt, std::int64_t planes, std::int64_t h, std::int64_t w, const void* dy,
                           void* dx) override {
    dispatch_bf16(dt, [&](auto z) { using T = decltype(z); k::upsample2x_backward<T>(planes, h, w, in<T>(dy), out<T>(dx)); });
  }
  void embedding_forward(DType dt, std::int64_t rows, std::int64_t dim, const void* table, std::int64_t,
                         const std::int64_t* ids,
                         void* o) override {
    dispatch_bf16(dt, [&](auto z) { using T = decltype(z); k::embedding_forward<T>(rows, dim, in<T>(table), ids, out<T>(o)); });
  }
  void embedding_backward(DType dt, std::int64_t rows, std::int64_t dim, const std::int64_t* ids, const void* dout,
                          void* dtable, std::int64_t) override {
    dispatch_bf16(dt, [&](auto z) {
      using T = decltype(z);
      k::embedding_backward<T>(rows, dim, ids, in<T>(dout), out<T>(dtable));
    });
  }
  void transpose_batched(DType dt, std::int64_t batch, std::int64_t rows, std::int64_t cols, const void* x,
                         void* y) override {
    dispatch_bf16(dt, [&](auto z) { using T = decltype(z); k::transpose_batched<T>(batch, rows, cols, in<T>(x), out<T>(y)); });
  }
  void unpatchify(DType dt, std::int64_t batch, std::int64_t h, std::int64_t w, std::int64_t p, std::int64_t channels,
                  bool to_image, const void* x, void* y) override {
    dispatch_bf16(dt, [&](auto z) {
      using T = decltype(z);
      k::unpatchify<T>(batch, h, w, p, channels, to_image, in<T>(x), out<T>(y));
    });
  }
  void copy_blocks(DType dt, std::int64_t count, std::int64_t block, const void* src, std::int64_t src_stride,
                   void* dst, std::int64_t dst_stride, bool accumulate) override {
    dispatch_bf16(dt, [&](auto z) {
      using T = decltype(z);
      k::copy_blocks<T>(count, block, in<T>(src), src_stride, out<T>(dst), dst_stride, accumulate);
    });
  }
  void add(DType dt, std::int64_t n, const void* a, const void* b, void* y) override {
    dispatch_bf16(dt, [&](auto z) { using T = decltype(z); k::add<T>(n, in<T>(a), in<T>(b), out<T>(y)); });
  }
  void accumulate(DType dt, std::int64_t n, const void* x, void* y) override {
    dispatch_bf16(dt, [&](auto z) { using T = decltype(z); k::accumulate<T>(n, in<T>(x), out<T>(y)); });
  }
  void scale(DType dt, std::int64_t n, double s, void* y) override {
    dispatch_bf16(dt, [&](auto z) { using T = decltype(z); k::scale<T>(n, s, out<T>(y)); });
  }
  void fill_zero(DType dt, std::int64_t n, void* y) override {
    if (n > 0) CARNOT_CUDA_CHECK(cudaMemset(y, 0, std::size_t(n) * dtype_size(dt)));
  }
  void timestep_embedding(DType dt, std::int64_t rows, std::int64_t dim, const float* t, const SinusoidStyle& style,
                          void* o) override {
    dispatch_bf16(dt, [&](auto z) { using T = decltype(z); k::timestep_embedding<T>(rows, dim, t, style, out<T>(o)); });
  }
  void convert(std::int64_t n, DType from, const void* x, DType to, void* y, bool accumulate) override {
    k::convert(n, from, x, to, y, accumulate);
  }
  double sum_squares(DType dt, std::int64_t n, const void* x) override {
    return dispatch(dt, [&](auto z) { using T = decltype(z); return k::sum_squares<T>(n, in<T>(x)); });
  }
  double mse_loss(DType dt, std::int64_t rows, std::int64_t cols, const void* pred, const void* target,
                  const float* row_weights, double grad_scale, void* dpred) override {
    return dispatch(dt, [&](auto z) {
      using T = decltype(z);
      return k::mse_loss<T>(rows, cols, in<T>(pred), in<T>(target), row_weights, grad_scale, out<T>(dpred));
    });
  }
  void adamw_step(std::int64_t n, float* param, const float* grad, float* m, float* v, float lr, float beta1,
                  float beta2, float eps, float weight_decay, std::int64_t step) override {
    k::adamw_step(n, param, grad, m, v, lr, beta1, beta2, eps, weight_decay, step);
  }
  void sgd_step(std::int64_t n, float* param, const float* grad, float* buf, float lr, float momentum,
                float weight_decay, bool nesterov) override {
    k::sgd_step(n, param, grad, buf, lr, momentum, weight_decay, nesterov);
  }
  void ema_update(std::int64_t n, float decay, const float* param, float* ema) override {
    k::ema_update(n, decay, param, ema);
  }
  void adamw_ema_step(std::int64_t n, float* param, float* grad, double grad_scale, float* m, float* v, float lr,
                      float beta1, float beta2, float eps, float weight_decay, std::int64_t step, float* ema,
                      float ema_decay, void* param_bf16) override {
    k::adamw_ema_step(n, param, grad, grad_scale, m, v, lr, beta1, beta2, eps, weight_decay, step, ema, ema_decay,
                      static_cast<__nv_bfloat16*>(param_bf16));
  }
  void q_sample_eps(const double* abar, int steps, std::uint64_t seed, std::uint32_t step, std::uint32_t first,
                    std::int64_t n, std::int64_t dim, const float* x0, float* t, float* eps, float* x_t) override {
    carnot::cuda::q_sample_eps(abar, steps, seed, step, first, n, dim, x0, t, eps, x_t);
  }
};


void* device_alloc(std::size_t bytes) { return cuda::malloc_device(bytes); }
void device_free(void* p) { cuda::free_device(p); }

}  // namespace

// bf16 by widening to float32 around the float32 kernels until bf16 kernels of their own exist.
Ops& cuda_ops() {
  static CudaOps float_ops;
  static const std::unique_ptr<Ops> ops = make_bf16_widening(float_ops, ScratchMemory{device_alloc, device_free});
  return *ops;
}

}  // namespace carnot
