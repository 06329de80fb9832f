// The op table: every numerical operation the framework needs, one virtual per op.
// kernels/cpu implements it (the numerical oracle); kernels/cuda will implement the same table.
// Arguments are raw pointers, element counts and a dtype; matrices are row-major.
#pragma once
#include <cstdint>

#include "kernels/conv_shape.h"
#include "kernels/dtype.h"

namespace carnot {

// Sinusoidal time features: frequencies f_k = max_period^(−k / (half − freq_shift)), k < half = dim/2,
// laid out [cos, sin] (DiT) or [sin, cos] (DDPM and diffusers' Timesteps with flip_sin_to_cos
// false, which also use freq_shift 1).
struct SinusoidStyle {
  double max_period = 10000;
  double freq_shift = 0;
  bool sin_first = false;
};

// Where dropout's masks come from: Philox keyed by (seed, step, the row's global sample index,
// the dropout stream) with counter blocks from `block` on, so each layer (its own block range) and
// each sample draw the same mask on any rank and at any micro-batch split.
struct DropoutKey {
  std::uint64_t seed = 0;
  std::uint32_t step = 0;
  std::uint32_t first_index = 0;  // row r is sample first_index + r
  std::uint32_t block = 0;
};

// What linear_forward applies after the product: the bias, or the bias then GELU (tanh form).
enum class Epilogue { kBias, kBiasGelu };

class Ops {
 public:
  virtual ~Ops() = default;
  // Whether the pointers this table takes are device pointers (its buffers live on the GPU).
  virtual bool on_gpu() const { return false; }
  // Waits until the work queued so far has finished (the CPU's is done when an op returns).
  virtual void synchronize() {}
  // Whether op (its method's name) takes bf16 itself; else kernels/bf16_widening.h widens around
  // its float32 version.
  virtual bool native_bf16(const char* op) const {
    (void)op;
    return false;
  }

  // C[m,n] = alpha * op(A) op(B) + beta * C, op(A) is m×k, op(B) is k×n; lda/ldb/ldc are row strides.
  virtual void gemm(DType dt, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n,
                    std::int64_t k, double alpha, const void* a, std::int64_t lda, const void* b,
                    std::int64_t ldb, double beta, void* c, std::int64_t ldc) = 0;

  // nn.Linear: y[rows, out] = x[rows, in] Wᵀ + bias (W [out, in]); with kBiasGelu, pre receives that
  // sum (what gelu_backward reads) and y = GELU(pre). A GPU fuses the epilogue into the GEMM
  // (cuBLASLt); the default here is gemm, add_bias and gelu_forward.
  virtual void linear_forward(DType dt, std::int64_t rows, std::int64_t in, std::int64_t out, const void* x,
                              const void* w, const void* bias, Epilogue epilogue, void* pre, void* y) {
    void* sum = epilogue == Epilogue::kBiasGelu ? pre : y;
    gemm(dt, false, true, rows, out, in, 1.0, x, in, w, in, 0.0, sum, out);
    add_bias(dt, rows, out, bias, sum);
    if (epilogue == Epilogue::kBiasGelu) gelu_forward(dt, rows * out, pre, y);
  }

  // nn.Linear's input gradient dx[rows, in] = dy[rows, out] W. With gelu_pre (not null) the layer's
  // input came out of a GELU, and the gradient goes on through it: dx = (dy W) ⊙ GELU'(gelu_pre),
  // whose column sums are then added to dbias_pre (not null: the bias gradient of the layer that
  // made gelu_pre). A GPU fuses GELU' and the sums into the GEMM (cuBLASLt's DGELU_BGRAD).
  virtual void linear_backward_input(DType dt, std::int64_t rows, std::int64_t in, std::int64_t out, const void* dy,
                                     const void* w, const void* gelu_pre, void* dx, void* dbias_pre) {
    gemm(dt, false, false, rows, in, out, 1.0, dy, out, w, in, 0.0, dx, in);
    if (gelu_pre) gelu_backward(dt, rows * in, gelu_pre, dx, dx);
    if (dbias_pre) bias_grad(dt, rows, in, dx, dbias_pre);
  }

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

  // y = max(x, 0), and dx = dy · [x > 0] (dx may alias dy). Positively homogeneous, so a layer
  // before it and one after may trade a positive scale (diagnostics' rescaling symmetry).
  virtual void relu_forward(DType dt, std::int64_t n, const void* x, void* y) = 0;
  virtual void relu_backward(DType dt, std::int64_t n, const void* x, const void* dy, void* dx) = 0;

  // GELU, tanh form (DiT's MLP): y = x/2 (1 + tanh(√(2/π)(x + 0.044715 x³))); dx may alias dy.
  virtual void gelu_forward(DType dt, std::int64_t n, const void* x, void* y) = 0;
  virtual void gelu_backward(DType dt, std::int64_t n, const void* x, const void* dy, void* dx) = 0;

  // ---- image models (issue 6). Activations are dt; statistics (mean, 1/std) are stats_dtype(dt):
  // dt, or float32 under bf16.
  // Parameter gradients (dweight, dbias, dgamma, dbeta) accumulate; all others are written.
  // LayerNorm over each row of cols, no affine (DiT's norm before adaLN).
  virtual void layer_norm_forward(DType dt, std::int64_t rows, std::int64_t cols, double eps, const void* x,
                                  void* y, void* mean, void* rstd) = 0;
  virtual void layer_norm_backward(DType dt, std::int64_t rows, std::int64_t cols, const void* x, const void* mean,
                                   const void* rstd, const void* dy, void* dx) = 0;
  // adaLN: y[b,n,c] = x[b,n,c] (1 + scale[b,c]) + shift[b,c]; shift and scale rows are mod_stride
  // apart (DiT's six modulation vectors share one [B, 6C] tensor).
  virtual void modulate_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, const void* x,
                                const void* shift, const void* scale, std::int64_t mod_stride, void* y) = 0;
  virtual void modulate_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, const void* x,
                                 const void* scale, std::int64_t mod_stride, const void* dy, void* dx, void* dshift,
                                 void* dscale) = 0;
  // DiT's adaLN fused: y = LN(x)(1 + scale) + shift, LN without affine (mean and rstd saved, as
  // layer_norm_forward's); x̂ is not kept: backward recomputes it from x and the statistics and writes
  // dshift[b] = Σ_n dy, dscale[b] = Σ_n dy·x̂ and dx = LayerNorm's backward of dy·(1 + scale).
  virtual void layer_norm_modulate_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols,
                                           double eps, const void* x, const void* shift, const void* scale,
                                           std::int64_t mod_stride, void* y, void* mean, void* rstd) = 0;
  // accumulate_dx: dx += the input gradient (DiT adds it to the residual stream's gradient in the
  // same pass, rounded once) instead of dx = it.
  virtual void layer_norm_modulate_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols,
                                            const void* x, const void* mean, const void* rstd, const void* scale,
                                            std::int64_t mod_stride, const void* dy, void* dx, void* dshift,
                                            void* dscale, bool accumulate_dx) = 0;
  // adaLN-Zero's gated residual: y[b,n,c] = x[b,n,c] + gate[b,c] h[b,n,c], x may be y (in place);
  // the residual's gradient passes through to x.
  virtual void gated_residual_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols,
                                      const void* x, const void* h, const void* gate, std::int64_t mod_stride,
                                      void* y) = 0;
  virtual void gated_residual_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols,
                                       const void* h, const void* gate, std::int64_t mod_stride, const void* dy,
                                       void* dh, void* dgate) = 0;
  // GroupNorm on NCHW (hw = H·W), with per-channel gamma and beta (both null: no affine).
  virtual void group_norm_forward(DType dt, std::int64_t batch, std::int64_t channels, std::int64_t hw,
                                  std::int64_t groups, double eps, const void* x, const void* gamma,
                                  const void* beta, void* y, void* mean, void* rstd) = 0;
  virtual void group_norm_backward(DType dt, std::int64_t batch, std::int64_t channels, std::int64_t hw,
                                   std::int64_t groups, const void* x, const void* gamma, const void* mean,
                                   const void* rstd, const void* dy, void* dx, void* dgamma, void* dbeta) = 0;
  // Multi-head self-attention on DiT's fused qkv[b, n, 3C] (C = heads · head_dim) into out[b, n, C].
  // Saves for backward each row's log-sum-exp of the scaled logits, lse[b, h, n] in stats_dtype(dt),
  // not the probabilities: backward recomputes them (FlashAttention's trade: N, not N², per head).
  // workspace: attention_workspace_elements(tokens) of dt (the CPU's one head at a time).
  virtual void attention_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t heads,
                                 std::int64_t head_dim, const void* qkv, void* workspace, void* lse, void* out) = 0;
  // Reads the forward's out (Δ = rowsum(dO ⊙ O) of the softmax gradient) besides qkv and lse.
  virtual void attention_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t heads,
                                  std::int64_t head_dim, const void* qkv, const void* lse, const void* out,
                                  const void* dout, void* workspace, void* dqkv) = 0;
  // Convolution on NCHW, weight [Cout, Cin, k, k], bias [Cout] or null; workspace of
  // g.workspace_elements(). dx may be null (the input layer).
  virtual void conv2d_forward(DType dt, const Conv2dShape& g, const void* x, const void* weight, const void* bias,
                              void* workspace, void* y) = 0;
  virtual void conv2d_backward(DType dt, const Conv2dShape& g, const void* x, const void* weight, const void* dy,
                               void* workspace, void* dx, void* dweight, void* dbias) = 0;
  // y[b, c, :] += v[b, c] over each of `planes` = B·C planes of hw (the U-Net's time embedding
  // added to a feature map); backward writes dv[p] = Σ dy[p, :].
  virtual void add_per_plane(DType dt, std::int64_t planes, std::int64_t hw, const void* v, void* y) = 0;
  virtual void sum_per_plane(DType dt, std::int64_t planes, std::int64_t hw, const void* dy, void* dv) = 0;
  // Inverted dropout on rows×cols: y = x·mask with mask = 0 (probability p) or 1/(1−p), saved for
  // backward: dx = dy·mask (dx may alias dy).
  virtual void dropout_forward(DType dt, std::int64_t rows, std::int64_t cols, double p, const DropoutKey& key,
                               const void* x, void* y, void* mask) = 0;
  virtual void dropout_backward(DType dt, std::int64_t n, const void* mask, const void* dy, void* dx) = 0;
  // Nearest-neighbour ×2 up-sampling of `planes` H×W planes.
  virtual void upsample2x_forward(DType dt, std::int64_t planes, std::int64_t h, std::int64_t w, const void* x,
                                  void* y) = 0;
  virtual void upsample2x_backward(DType dt, std::int64_t planes, std::int64_t h, std::int64_t w, const void* dy,
                                   void* dx) = 0;

  // out[r] = table[ids[r]] (rows of dim; the table has table_rows rows); backward adds dout[r]
  // into dtable[ids[r]].
  virtual void embedding_forward(DType dt, std::int64_t rows, std::int64_t dim, const void* table,
                                 std::int64_t table_rows, const std::int64_t* ids, void* out) = 0;
  virtual void embedding_backward(DType dt, std::int64_t rows, std::int64_t dim, const std::int64_t* ids,
                                  const void* dout, void* dtable, std::int64_t table_rows) = 0;
  // y[b] = x[b]ᵀ for batch rows×cols matrices (NCHW planes ↔ tokens; its own inverse with rows and
  // cols swapped).
  virtual void transpose_batched(DType dt, std::int64_t batch, std::int64_t rows, std::int64_t cols, const void* x,
                                 void* y) = 0;
  // DiT's unpatchify: tokens[B, h·w, p·p·C] → image[B, C, h·p, w·p] (to_image), or back.
  virtual void unpatchify(DType dt, std::int64_t batch, std::int64_t h, std::int64_t w, std::int64_t p,
                          std::int64_t channels, bool to_image, const void* in, void* out) = 0;

  // Copies `count` blocks of `block` elements from src (blocks src_stride apart) to dst (dst_stride
  // apart), or adds them when accumulate: channel concatenation and its split, q/k/v into fused qkv.
  // src and dst do not overlap (a copy onto itself, src == dst, is allowed and does nothing).
  virtual void copy_blocks(DType dt, std::int64_t count, std::int64_t block, const void* src, std::int64_t src_stride,
                           void* dst, std::int64_t dst_stride, bool accumulate) = 0;
  // y = a + b (y may alias a or b); y += x; y *= s; y = 0 (fill_zero clears n · dtype_size(dt)
  // bytes, in every dtype: zero is all bits clear).
  virtual void add(DType dt, std::int64_t n, const void* a, const void* b, void* y) = 0;
  virtual void accumulate(DType dt, std::int64_t n, const void* x, void* y) = 0;
  virtual void scale(DType dt, std::int64_t n, double s, void* y) = 0;
  virtual void fill_zero(DType dt, std::int64_t n, void* y) = 0;

  // Sinusoidal embedding of times t[rows] into out[rows, dim] (see SinusoidStyle; an odd dim's last
  // column is zero).
  virtual void timestep_embedding(DType dt, std::int64_t rows, std::int64_t dim, const float* t,
                                  const SinusoidStyle& style, void* out) = 0;

  // y = x converted from `from` to `to` (n elements; to bf16 rounding to nearest even), or with
  // accumulate y += x (in float32 when either is bf16, rounded once). Mixed precision's casts.
  virtual void convert(std::int64_t n, DType from, const void* x, DType to, void* y, bool accumulate) = 0;

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

  // One SGD step on fp32 buffers, PyTorch's torch.optim.SGD (dampening 0): g = grad + wd·param;
  // with momentum μ > 0, buf = μ·buf + g (buf starts at zero) and g = buf, or g + μ·buf for Nesterov;
  // param −= lr·g. buf may be null when μ = 0.
  virtual void sgd_step(std::int64_t n, float* param, const float* grad, float* buf, float lr, float momentum,
                        float weight_decay, bool nesterov) = 0;

  // ema = decay * ema + (1 - decay) * param.
  virtual void ema_update(std::int64_t n, float decay, const float* param, float* ema) = 0;

  // What follows the gradient's reduction, as one pass over the flat fp32 buffers where a device
  // fuses it (four passes' traffic in one: the largest model's update is memory-bound); here, with
  // the same bits, scale, adamw_step, ema_update and convert in turn: grad *= grad_scale unless it
  // is 1 (clipping; grad is left scaled), AdamW as adamw_step, then where not null
  // ema = ema_decay·ema + (1 − ema_decay)·param and param_bf16 = param rounded to bf16.
  virtual void adamw_ema_step(std::int64_t n, float* param, float* grad, double grad_scale, float* m, float* v,
                              float lr, float beta1, float beta2, float eps, float weight_decay, std::int64_t step,
                              float* ema, float ema_decay, void* param_bf16) {
    if (grad_scale != 1.0) scale(DType::F32, n, grad_scale, grad);
    adamw_step(n, param, grad, m, v, lr, beta1, beta2, eps, weight_decay, step);
    if (ema) ema_update(n, ema_decay, param, ema);
    if (param_bf16) convert(n, DType::F32, param, DType::BF16, param_bf16, false);
  }

  // The ε objective's inputs (DDPM's L_simple) for samples [first, first + n) of training step
  // `step`: t ~ U{0..steps−1} and ε ~ N(0, I) from Philox keyed by (seed, step, global sample index),
  // so any rank and micro-batch split draws the same; x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε. alphas_cumprod
  // [steps] is float64; x0, eps and x_t are [n, dim] float32; t[n] holds the step as a float.
  virtual void q_sample_eps(const double* alphas_cumprod, int steps, std::uint64_t seed, std::uint32_t step,
                            std::uint32_t first, std::int64_t n, std::int64_t dim, const float* x0, float* t,
                            float* eps, float* x_t) = 0;
};

// Attention's workspace: the probabilities and their gradient for one head.
inline std::int64_t attention_workspace_elements(std::int64_t tokens) { return 2 * tokens * tokens; }

// The CPU implementation (always present).
Ops& cpu_ops();

}  // namespace carnot
