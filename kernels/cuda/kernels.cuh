// The CUDA kernels' launchers (device pointers), one per op of kernels/ops.h, mirroring
// kernels/cpu/kernels.h; T is float or double, and __nv_bfloat16 for the elementwise ops, LayerNorm
// and adaLN's (element.cuh). cuda_ops.cu wires them into the op table.
#pragma once
#include <cstdint>

#include "kernels/cuda/element.cuh"
#include "kernels/ops.h"

namespace carnot::cuda_kernels {

// elementwise.cu
void convert(std::int64_t n, DType from, const void* x, DType to, void* y, bool accumulate);
template <class T> void silu_forward(std::int64_t n, const T* x, T* y);
template <class T> void silu_backward(std::int64_t n, const T* x, const T* dy, T* dx);
template <class T> void relu_forward(std::int64_t n, const T* x, T* y);
template <class T> void relu_backward(std::int64_t n, const T* x, const T* dy, T* dx);
template <class T> void gelu_forward(std::int64_t n, const T* x, T* y);
template <class T> void gelu_backward(std::int64_t n, const T* x, const T* dy, T* dx);
template <class T> void add(std::int64_t n, const T* a, const T* b, T* y);
template <class T> void accumulate(std::int64_t n, const T* x, T* y);
template <class T> void scale(std::int64_t n, double s, T* y);
template <class T> void add_bias(std::int64_t rows, std::int64_t cols, const T* bias, T* y);
template <class T> void bias_grad(std::int64_t rows, std::int64_t cols, const T* dy, T* dbias);
void adamw_step(std::int64_t n, float* param, const float* grad, float* m, float* v, float lr, float beta1,
                float beta2, float eps, float weight_decay, std::int64_t step);
void sgd_step(std::int64_t n, float* param, const float* grad, float* buf, float lr, float momentum,
              float weight_decay, bool nesterov);
void ema_update(std::int64_t n, float decay, const float* param, float* ema);
// Ops::adamw_ema_step in one kernel (the same arithmetic as scale, adamw_step, ema_update, convert).
void adamw_ema_step(std::int64_t n, float* param, float* grad, double grad_scale, float* m, float* v, float lr,
                    float beta1, float beta2, float eps, float weight_decay, std::int64_t step, float* ema,
                    float ema_decay, __nv_bfloat16* param_bf16);

// reduce.cu: float64 results, the blocks' partial sums added on the host in order.
template <class T> double sum_squares(std::int64_t n, const T* x);
template <class T>
double mse_loss(std::int64_t rows, std::int64_t cols, const T* pred, const T* target, const float* row_weights,
                double grad_scale, T* dpred);

// norms.cu
// Statistics are compute_t<T> (element.cuh): float under bf16.
template <class T>
void layer_norm_forward(std::int64_t rows, std::int64_t cols, double eps, const T* x, T* y, compute_t<T>* mean,
                        compute_t<T>* rstd);
template <class T>
void layer_norm_backward(std::int64_t rows, std::int64_t cols, const T* x, const compute_t<T>* mean,
                         const compute_t<T>* rstd, const T* dy, T* dx);
// adaln.cu (statistics compute_t<T>, as LayerNorm's)
template <class T>
void layer_norm_modulate_forward(std::int64_t batch, std::int64_t tokens, std::int64_t cols, double eps, const T* x,
                                 const T* shift, const T* scale, std::int64_t mod_stride, T* y, compute_t<T>* mean,
                                 compute_t<T>* rstd);
template <class T>
void layer_norm_modulate_backward(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* x,
                                  const compute_t<T>* mean, const compute_t<T>* rstd, const T* scale,
                                  std::int64_t mod_stride, const T* dy, T* dx, T* dshift, T* dscale,
                                  bool accumulate_dx);
template <class T>
void modulate_forward(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* x, const T* shift,
                      const T* scale, std::int64_t mod_stride, T* y);
template <class T>
void modulate_backward(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* x, const T* scale,
                       std::int64_t mod_stride, const T* dy, T* dx, T* dshift, T* dscale);
template <class T>
void gated_residual_forward(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* x, const T* h,
                            const T* gate, std::int64_t mod_stride, T* y);
template <class T>
void gated_residual_backward(std::int64_t batch, std::int64_t tokens, std::int64_t cols, const T* h, const T* gate,
                             std::int64_t mod_stride, const T* dy, T* dh, T* dgate);

template <class T>
void group_norm_forward(std::int64_t batch, std::int64_t channels, std::int64_t hw, std::int64_t groups, double eps,
                        const T* x, const T* gamma, const T* beta, T* y, compute_t<T>* mean, compute_t<T>* rstd);
template <class T>
void group_norm_backward(std::int64_t batch, std::int64_t channels, std::int64_t hw, std::int64_t groups, const T* x,
                         const T* gamma, const compute_t<T>* mean, const compute_t<T>* rstd, const T* dy, T* dx,
                         T* dgamma, T* dbeta);

// attention.cu (the workspace argument of the op table is not needed: scratch is kept inside);
// lse is float32 for bf16 (compute_t), T otherwise. bf16 goes through flash_attention.cu where it applies.
template <class T>
void attention_forward(std::int64_t batch, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim, const T* qkv,
                       compute_t<T>* lse, T* out);
template <class T>
void attention_backward(std::int64_t batch, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim,
                        const T* qkv, const compute_t<T>* lse, const T* out, const T* dout, T* dqkv);

// conv_cudnn.cu: float32 and bf16 through cuDNN; false (nothing done) where it declines the
// geometry. bf16 where it declines: float32 copies through conv2d.cu.
bool cudnn_conv2d_forward(DType dt, const Conv2dShape& g, const void* x, const void* weight, const void* bias, void* y);
bool cudnn_conv2d_backward(DType dt, const Conv2dShape& g, const void* x, const void* weight, const void* dy, void* dx,
                           void* dweight, void* dbias);
void conv2d_bf16_via_float_forward(const Conv2dShape& g, const void* x, const void* weight, const void* bias, void* y);
void conv2d_bf16_via_float_backward(const Conv2dShape& g, const void* x, const void* weight, const void* dy, void* dx,
                                    void* dweight, void* dbias);

// conv2d.cu (workspace: g.workspace_elements(), as the CPU twin's)
template <class T>
void conv2d_forward(const Conv2dShape& g, const T* x, const T* weight, const T* bias, T* workspace, T* y);
template <class T>
void conv2d_backward(const Conv2dShape& g, const T* x, const T* weight, const T* dy, T* workspace, T* dx, T* dweight,
                     T* dbias);

// layout.cu
template <class T>
void embedding_forward(std::int64_t rows, std::int64_t dim, const T* table, const std::int64_t* ids, T* out);
template <class T>
void embedding_backward(std::int64_t rows, std::int64_t dim, const std::int64_t* ids, const T* dout, T* dtable);
template <class T> void transpose_batched(std::int64_t batch, std::int64_t rows, std::int64_t cols, const T* x, T* y);
template <class T>
void unpatchify(std::int64_t batch, std::int64_t h, std::int64_t w, std::int64_t p, std::int64_t channels,
                bool to_image, const T* in, T* out);
template <class T>
void copy_blocks(std::int64_t count, std::int64_t block, const T* src, std::int64_t src_stride, T* dst,
                 std::int64_t dst_stride, bool accumulate);
template <class T> void add_per_plane(std::int64_t planes, std::int64_t hw, const T* v, T* y);
template <class T> void sum_per_plane(std::int64_t planes, std::int64_t hw, const T* dy, T* dv);
template <class T> void upsample2x_forward(std::int64_t planes, std::int64_t h, std::int64_t w, const T* x, T* y);
template <class T> void upsample2x_backward(std::int64_t planes, std::int64_t h, std::int64_t w, const T* dy, T* dx);
template <class T>
void timestep_embedding(std::int64_t rows, std::int64_t dim, const float* t, const SinusoidStyle& style, T* out);
template <class T>
void dropout_forward(std::int64_t rows, std::int64_t cols, double p, const DropoutKey& key, const T* x, T* y, T* mask);
template <class T> void dropout_backward(std::int64_t n, const T* mask, const T* dy, T* dx);

}  // namespace carnot::cuda_kernels
