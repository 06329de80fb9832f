#include "kernels/bf16_widening.h"

#include <mutex>
#include <vector>

namespace carnot {

namespace {

constexpr DType kBf16 = DType::BF16, kF32 = DType::F32;

// An output's float32 copy and where it narrows back to.
struct WriteBack {
  const float* wide;
  void* narrow;
  std::int64_t n;
};

// Grow-only float32 scratch slots, handed out in order within one call, and the call's list of
// write-backs (kept, so that a call allocates nothing once sizes have settled).
class ScratchPool {
 public:
  explicit ScratchPool(ScratchMemory memory) : memory_(memory) {}
  ~ScratchPool() {
    for (Slot& s : slots_) memory_.release(s.p);
  }
  ScratchPool(const ScratchPool&) = delete;
  ScratchPool& operator=(const ScratchPool&) = delete;
  float* take(std::size_t i, std::int64_t n) {
    if (i == slots_.size()) slots_.push_back({nullptr, 0});
    Slot& s = slots_[i];
    const std::size_t bytes = std::size_t(n > 0 ? n : 1) * sizeof(float);
    if (s.bytes < bytes) {
      if (s.p) memory_.release(s.p);
      s.bytes = std::max(bytes, 2 * s.bytes);
      s.p = memory_.alloc(s.bytes);
    }
    return static_cast<float*>(s.p);
  }
  std::vector<WriteBack>& write_backs() { return write_backs_; }

 private:
  struct Slot {
    void* p;
    std::size_t bytes;
  };
  ScratchMemory memory_;
  std::vector<Slot> slots_;
  std::vector<WriteBack> write_backs_;
};

// Elements a strided [batch, cols] view spans (rows `stride` apart).
std::int64_t span(std::int64_t batch, std::int64_t cols, std::int64_t stride) {
  return batch > 0 ? (batch - 1) * stride + cols : 0;
}

// One bf16 op's float32 copies: inputs widened, outputs narrowed back when the call ends.
class Call {
 public:
  Call(Ops& ops, ScratchPool& pool) : ops_(ops), pool_(pool), back_(pool.write_backs()) { back_.clear(); }
  ~Call() {
    for (const WriteBack& b : back_) ops_.convert(b.n, kF32, b.wide, kBf16, b.narrow, false);
  }
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  const float* in(const void* p, std::int64_t n) {
    if (!p) return nullptr;
    float* w = pool_.take(next_++, n);
    ops_.convert(n, kBf16, p, kF32, w, false);
    return w;
  }
  // Read and written (accumulated into, or written in part): widened, then narrowed back.
  float* inout(void* p, std::int64_t n) {
    if (!p) return nullptr;
    float* w = const_cast<float*>(in(p, n));
    back_.push_back({w, p, n});
    return w;
  }
  // Rows of `cols`, `stride` apart, read and written; only the rows are written back (another
  // output of the same call may interleave with them, as adaLN's dshift and dscale do).
  float* inout_rows(void* p, std::int64_t rows, std::int64_t cols, std::int64_t stride) {
    if (!p) return nullptr;
    float* w = const_cast<float*>(in(p, span(rows, cols, stride)));
    for (std::int64_t r = 0; r < rows; ++r)
      back_.push_back({w + r * stride, static_cast<std::uint16_t*>(p) + r * stride, cols});
    return w;
  }
  // Written whole: narrowed back.
  float* out(void* p, std::int64_t n) {
    if (!p) return nullptr;
    float* w = pool_.take(next_++, n);
    back_.push_back({w, p, n});
    return w;
  }
  float* scratch(std::int64_t n) { return pool_.take(next_++, n); }

 private:
  Ops& ops_;
  ScratchPool& pool_;
  std::size_t next_ = 0;
  std::vector<WriteBack>& back_;
};

class Bf16Widening final : public Ops {
 public:
  Bf16Widening(Ops& inner, ScratchMemory memory) : f_(inner), pool_(memory) {}
  bool on_gpu() const override { return f_.on_gpu(); }
  void synchronize() override { f_.synchronize(); }
  bool native_bf16(const char* op) const override { return f_.native_bf16(op); }

// Other dtypes, and bf16 where the inner table has a kernel of its own, pass straight through.
#define CARNOT_WIDEN_OR_PASS(op, args) \
  if (dt != kBf16 || f_.native_bf16(#op)) return f_.op args; \
  const std::lock_guard<std::mutex> lock(mutex_); \
  Call c(f_, pool_)

  void gemm(DType dt, bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, double alpha, const void* a,
            std::int64_t lda, const void* b, std::int64_t ldb, double beta, void* cc, std::int64_t ldc) override {
    CARNOT_WIDEN_OR_PASS(gemm, (dt, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, cc, ldc));
    const float* wa = c.in(a, ta ? span(k, m, lda) : span(m, k, lda));
    const float* wb = c.in(b, tb ? span(n, k, ldb) : span(k, n, ldb));
    // Rows ldc apart: the gaps between them are read too, and written back as they were.
    float* wc = beta != 0 || ldc != n ? c.inout(cc, span(m, n, ldc)) : c.out(cc, m * n);
    f_.gemm(kF32, ta, tb, m, n, k, alpha, wa, lda, wb, ldb, beta, wc, ldc);
  }
  // A table with its own bf16 linear (the GPU's cuBLASLt epilogues) takes it whole; otherwise the
  // composite runs through this adapter's ops.
  void linear_forward(DType dt, std::int64_t rows, std::int64_t in, std::int64_t out, const void* x, const void* w,
                      const void* bias, Epilogue epilogue, void* pre, void* y) override {
    if (dt != kBf16 || f_.native_bf16("linear_forward"))
      return f_.linear_forward(dt, rows, in, out, x, w, bias, epilogue, pre, y);
    Ops::linear_forward(dt, rows, in, out, x, w, bias, epilogue, pre, y);
  }
  void linear_backward_input(DType dt, std::int64_t rows, std::int64_t in, std::int64_t out, const void* dy,
                             const void* w, const void* gelu_pre, void* dx, void* dbias_pre) override {
    if (dt != kBf16 || f_.native_bf16("linear_backward_input"))
      return f_.linear_backward_input(dt, rows, in, out, dy, w, gelu_pre, dx, dbias_pre);
    Ops::linear_backward_input(dt, rows, in, out, dy, w, gelu_pre, dx, dbias_pre);
  }
  void add_bias(DType dt, std::int64_t rows, std::int64_t cols, const void* bias, void* y) override {
    CARNOT_WIDEN_OR_PASS(add_bias, (dt, rows, cols, bias, y));
    f_.add_bias(kF32, rows, cols, c.in(bias, cols), c.inout(y, rows * cols));
  }
  void bias_grad(DType dt, std::int64_t rows, std::int64_t cols, const void* dy, void* dbias) override {
    CARNOT_WIDEN_OR_PASS(bias_grad, (dt, rows, cols, dy, dbias));
    f_.bias_grad(kF32, rows, cols, c.in(dy, rows * cols), c.inout(dbias, cols));
  }
  void silu_forward(DType dt, std::int64_t n, const void* x, void* y) override {
    CARNOT_WIDEN_OR_PASS(silu_forward, (dt, n, x, y));
    f_.silu_forward(kF32, n, c.in(x, n), c.out(y, n));
  }
  void silu_backward(DType dt, std::int64_t n, const void* x, const void* dy, void* dx) override {
    CARNOT_WIDEN_OR_PASS(silu_backward, (dt, n, x, dy, dx));
    f_.silu_backward(kF32, n, c.in(x, n), c.in(dy, n), c.out(dx, n));
  }
  void relu_forward(DType dt, std::int64_t n, const void* x, void* y) override {
    CARNOT_WIDEN_OR_PASS(relu_forward, (dt, n, x, y));
    f_.relu_forward(kF32, n, c.in(x, n), c.out(y, n));
  }
  void relu_backward(DType dt, std::int64_t n, const void* x, const void* dy, void* dx) override {
    CARNOT_WIDEN_OR_PASS(relu_backward, (dt, n, x, dy, dx));
    f_.relu_backward(kF32, n, c.in(x, n), c.in(dy, n), c.out(dx, n));
  }
  void gelu_forward(DType dt, std::int64_t n, const void* x, void* y) override {
    CARNOT_WIDEN_OR_PASS(gelu_forward, (dt, n, x, y));
    f_.gelu_forward(kF32, n, c.in(x, n), c.out(y, n));
  }
  void gelu_backward(DType dt, std::int64_t n, const void* x, const void* dy, void* dx) override {
    CARNOT_WIDEN_OR_PASS(gelu_backward, (dt, n, x, dy, dx));
    f_.gelu_backward(kF32, n, c.in(x, n), c.in(dy, n), c.out(dx, n));
  }
  void layer_norm_forward(DType dt, std::int64_t rows, std::int64_t cols, double eps, const void* x, void* y,
                          void* mean, void* rstd) override {
    CARNOT_WIDEN_OR_PASS(layer_norm_forward, (dt, rows, cols, eps, x, y, mean, rstd));
    f_.layer_norm_forward(kF32, rows, cols, eps, c.in(x, rows * cols), c.out(y, rows * cols), mean, rstd);
  }
  void layer_norm_backward(DType dt, std::int64_t rows, std::int64_t cols, const void* x, const void* mean,
                           const void* rstd, const void* dy, void* dx) override {
    CARNOT_WIDEN_OR_PASS(layer_norm_backward, (dt, rows, cols, x, mean, rstd, dy, dx));
    f_.layer_norm_backward(kF32, rows, cols, c.in(x, rows * cols), mean, rstd, c.in(dy, rows * cols),
                           c.out(dx, rows * cols));
  }
  void layer_norm_modulate_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, double eps,
                                   const void* x, const void* shift, const void* scale, std::int64_t stride, void* y,
                                   void* mean, void* rstd) override {
    CARNOT_WIDEN_OR_PASS(layer_norm_modulate_forward,
                         (dt, batch, tokens, cols, eps, x, shift, scale, stride, y, mean, rstd));
    const std::int64_t n = batch * tokens * cols, s = span(batch, cols, stride);
    f_.layer_norm_modulate_forward(kF32, batch, tokens, cols, eps, c.in(x, n), c.in(shift, s), c.in(scale, s), stride,
                                   c.out(y, n), mean, rstd);
  }
  void layer_norm_modulate_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols,
                                    const void* x, const void* mean, const void* rstd, const void* scale,
                                    std::int64_t stride, const void* dy, void* dx, void* dshift, void* dscale,
                                    bool accumulate_dx) override {
    CARNOT_WIDEN_OR_PASS(layer_norm_modulate_backward,
                         (dt, batch, tokens, cols, x, mean, rstd, scale, stride, dy, dx, dshift, dscale, accumulate_dx));
    const std::int64_t n = batch * tokens * cols, s = span(batch, cols, stride);
    f_.layer_norm_modulate_backward(kF32, batch, tokens, cols, c.in(x, n), mean, rstd, c.in(scale, s), stride,
                                    c.in(dy, n), accumulate_dx ? c.inout(dx, n) : c.out(dx, n),
                                    c.inout_rows(dshift, batch, cols, stride),
                                    c.inout_rows(dscale, batch, cols, stride), accumulate_dx);
  }
  void modulate_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, const void* x,
                        const void* shift, const void* scale, std::int64_t stride, void* y) override {
    CARNOT_WIDEN_OR_PASS(modulate_forward, (dt, batch, tokens, cols, x, shift, scale, stride, y));
    const std::int64_t n = batch * tokens * cols, s = span(batch, cols, stride);
    f_.modulate_forward(kF32, batch, tokens, cols, c.in(x, n), c.in(shift, s), c.in(scale, s), stride, c.out(y, n));
  }
  void modulate_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, const void* x,
                         const void* scale, std::int64_t stride, const void* dy, void* dx, void* dshift,
                         void* dscale) override {
    CARNOT_WIDEN_OR_PASS(modulate_backward, (dt, batch, tokens, cols, x, scale, stride, dy, dx, dshift, dscale));
    const std::int64_t n = batch * tokens * cols, s = span(batch, cols, stride);
    f_.modulate_backward(kF32, batch, tokens, cols, c.in(x, n), c.in(scale, s), stride, c.in(dy, n), c.out(dx, n),
                         c.inout_rows(dshift, batch, cols, stride), c.inout_rows(dscale, batch, cols, stride));
  }
  void gated_residual_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, const void* x,
                              const void* h, const void* gate, std::int64_t stride, void* y) override {
    CARNOT_WIDEN_OR_PASS(gated_residual_forward, (dt, batch, tokens, cols, x, h, gate, stride, y));
    const std::int64_t n = batch * tokens * cols;
    f_.gated_residual_forward(kF32, batch, tokens, cols, c.in(x, n), c.in(h, n), c.in(gate, span(batch, cols, stride)),
                              stride, c.out(y, n));
  }
  void gated_residual_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, const void* h,
                               const void* gate, std::int64_t stride, const void* dy, void* dh, void* dgate) override {
    CARNOT_WIDEN_OR_PASS(gated_residual_backward, (dt, batch, tokens, cols, h, gate, stride, dy, dh, dgate));
    const std::int64_t n = batch * tokens * cols, s = span(batch, cols, stride);
    f_.gated_residual_backward(kF32, batch, tokens, cols, c.in(h, n), c.in(gate, s), stride, c.in(dy, n),
                               c.out(dh, n), c.inout_rows(dgate, batch, cols, stride));
  }
  void group_norm_forward(DType dt, std::int64_t batch, std::int64_t channels, std::int64_t hw, std::int64_t groups,
                          double eps, const void* x, const void* gamma, const void* beta, void* y, void* mean,
                          void* rstd) override {
    CARNOT_WIDEN_OR_PASS(group_norm_forward, (dt, batch, channels, hw, groups, eps, x, gamma, beta, y, mean, rstd));
    const std::int64_t n = batch * channels * hw;
    f_.group_norm_forward(kF32, batch, channels, hw, groups, eps, c.in(x, n), c.in(gamma, channels),
                          c.in(beta, channels), c.out(y, n), mean, rstd);
  }
  void group_norm_backward(DType dt, std::int64_t batch, std::int64_t channels, std::int64_t hw, std::int64_t groups,
                           const void* x, const void* gamma, const void* mean, const void* rstd, const void* dy,
                           void* dx, void* dgamma, void* dbeta) override {
    CARNOT_WIDEN_OR_PASS(group_norm_backward, (dt, batch, channels, hw, groups, x, gamma, mean, rstd, dy, dx, dgamma,
                                             dbeta));
    const std::int64_t n = batch * channels * hw;
    f_.group_norm_backward(kF32, batch, channels, hw, groups, c.in(x, n), c.in(gamma, channels), mean, rstd,
                           c.in(dy, n), c.out(dx, n), c.inout(dgamma, channels), c.inout(dbeta, channels));
  }
  void attention_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t heads,
                         std::int64_t head_dim, const void* qkv, void* workspace, void* lse, void* out) override {
    CARNOT_WIDEN_OR_PASS(attention_forward, (dt, batch, tokens, heads, head_dim, qkv, workspace, lse, out));
    const std::int64_t C = heads * head_dim, rows = batch * tokens;
    f_.attention_forward(kF32, batch, tokens, heads, head_dim, c.in(qkv, rows * 3 * C),
                         c.scratch(attention_workspace_elements(tokens)), lse, c.out(out, rows * C));
  }
  void attention_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t heads,
                          std::int64_t head_dim, const void* qkv, const void* lse, const void* out, const void* dout,
                          void* workspace, void* dqkv) override {
    CARNOT_WIDEN_OR_PASS(attention_backward, (dt, batch, tokens, heads, head_dim, qkv, lse, out, dout, workspace, dqkv));
    const std::int64_t C = heads * head_dim, rows = batch * tokens;
    f_.attention_backward(kF32, batch, tokens, heads, head_dim, c.in(qkv, rows * 3 * C), lse, c.in(out, rows * C),
                          c.in(dout, rows * C), c.scratch(attention_workspace_elements(tokens)),
                          c.out(dqkv, rows * 3 * C));
  }
  void conv2d_forward(DType dt, const Conv2dShape& g, const void* x, const void* weight, const void* bias,
                      void* workspace, void* y) override {
    CARNOT_WIDEN_OR_PASS(conv2d_forward, (dt, g, x, weight, bias, workspace, y));
    f_.conv2d_forward(kF32, g, c.in(x, g.batch * g.cin * g.h * g.w), c.in(weight, g.cout * g.cin * g.k * g.k),
                      c.in(bias, g.cout), c.scratch(g.workspace_elements()),
                      c.out(y, g.batch * g.cout * g.out_h() * g.out_w()));
  }
  void conv2d_backward(DType dt, const Conv2dShape& g, const void* x, const void* weight, const void* dy,
                       void* workspace, void* dx, void* dweight, void* dbias) override {
    CARNOT_WIDEN_OR_PASS(conv2d_backward, (dt, g, x, weight, dy, workspace, dx, dweight, dbias));
    const std::int64_t nx = g.batch * g.cin * g.h * g.w, nw = g.cout * g.cin * g.k * g.k;
    f_.conv2d_backward(kF32, g, c.in(x, nx), c.in(weight, nw), c.in(dy, g.batch * g.cout * g.out_h() * g.out_w()),
                       c.scratch(g.workspace_elements()), c.out(dx, nx), c.inout(dweight, nw),
                       c.inout(dbias, g.cout));
  }
  void add_per_plane(DType dt, std::int64_t planes, std::int64_t hw, const void* v, void* y) override {
    CARNOT_WIDEN_OR_PASS(add_per_plane, (dt, planes, hw, v, y));
    f_.add_per_plane(kF32, planes, hw, c.in(v, planes), c.inout(y, planes * hw));
  }
  void sum_per_plane(DType dt, std::int64_t planes, std::int64_t hw, const void* dy, void* dv) override {
    CARNOT_WIDEN_OR_PASS(sum_per_plane, (dt, planes, hw, dy, dv));
    f_.sum_per_plane(kF32, planes, hw, c.in(dy, planes * hw), c.out(dv, planes));
  }
  void dropout_forward(DType dt, std::int64_t rows, std::int64_t cols, double p, const DropoutKey& key,
                       const void* x, void* y, void* mask) override {
    CARNOT_WIDEN_OR_PASS(dropout_forward, (dt, rows, cols, p, key, x, y, mask));
    const std::int64_t n = rows * cols;
    f_.dropout_forward(kF32, rows, cols, p, key, c.in(x, n), c.out(y, n), c.out(mask, n));
  }
  void dropout_backward(DType dt, std::int64_t n, const void* mask, const void* dy, void* dx) override {
    CARNOT_WIDEN_OR_PASS(dropout_backward, (dt, n, mask, dy, dx));
    f_.dropout_backward(kF32, n, c.in(mask, n), c.in(dy, n), c.out(dx, n));
  }
  void upsample2x_forward(DType dt, std::int64_t planes, std::int64_t h, std::int64_t w, const void* x,
                          void* y) override {
    CARNOT_WIDEN_OR_PASS(upsample2x_forward, (dt, planes, h, w, x, y));
    f_.upsample2x_forward(kF32, planes, h, w, c.in(x, planes * h * w), c.out(y, planes * 4 * h * w));
  }
  void upsample2x_backward(DType dt, std::int64_t planes, std::int64_t h, std::int64_t w, const void* dy,
                           void* dx) override {
    CARNOT_WIDEN_OR_PASS(upsample2x_backward, (dt, planes, h, w, dy, dx));
    f_.upsample2x_backward(kF32, planes, h, w, c.in(dy, planes * 4 * h * w), c.out(dx, planes * h * w));
  }
  void embedding_forward(DType dt, std::int64_t rows, std::int64_t dim, const void* table, std::int64_t table_rows,
                         const std::int64_t* ids, void* out) override {
    CARNOT_WIDEN_OR_PASS(embedding_forward, (dt, rows, dim, table, table_rows, ids, out));
    f_.embedding_forward(kF32, rows, dim, c.in(table, table_rows * dim), table_rows, ids, c.out(out, rows * dim));
  }
  void embedding_backward(DType dt, std::int64_t rows, std::int64_t dim, const std::int64_t* ids, const void* dout,
                          void* dtable, std::int64_t table_rows) override {
    CARNOT_WIDEN_OR_PASS(embedding_backward, (dt, rows, dim, ids, dout, dtable, table_rows));
    f_.embedding_backward(kF32, rows, dim, ids, c.in(dout, rows * dim), c.inout(dtable, table_rows * dim),
                          table_rows);
  }
  void transpose_batched(DType dt, std::int64_t batch, std::int64_t rows, std::int64_t cols, const void* x,
                         void* y) override {
    CARNOT_WIDEN_OR_PASS(transpose_batched, (dt, batch, rows, cols, x, y));
    const std::int64_t n = batch * rows * cols;
    f_.transpose_batched(kF32, batch, rows, cols, c.in(x, n), c.out(y, n));
  }
  void unpatchify(DType dt, std::int64_t batch, std::int64_t h, std::int64_t w, std::int64_t p, std::int64_t channels,
                  bool to_image, const void* in, void* out) override {
    CARNOT_WIDEN_OR_PASS(unpatchify, (dt, batch, h, w, p, channels, to_image, in, out));
    const std::int64_t n = batch * h * w * p * p * channels;
    f_.unpatchify(kF32, batch, h, w, p, channels, to_image, c.in(in, n), c.out(out, n));
  }
  void copy_blocks(DType dt, std::int64_t count, std::int64_t block, const void* src, std::int64_t src_stride,
                   void* dst, std::int64_t dst_stride, bool accumulate) override {
    CARNOT_WIDEN_OR_PASS(copy_blocks, (dt, count, block, src, src_stride, dst, dst_stride, accumulate));
    f_.copy_blocks(kF32, count, block, c.in(src, span(count, block, src_stride)), src_stride,
                   c.inout(dst, span(count, block, dst_stride)), dst_stride, accumulate);
  }
  void add(DType dt, std::int64_t n, const void* a, const void* b, void* y) override {
    CARNOT_WIDEN_OR_PASS(add, (dt, n, a, b, y));
    f_.add(kF32, n, c.in(a, n), c.in(b, n), c.out(y, n));
  }
  void accumulate(DType dt, std::int64_t n, const void* x, void* y) override {
    CARNOT_WIDEN_OR_PASS(accumulate, (dt, n, x, y));
    f_.accumulate(kF32, n, c.in(x, n), c.inout(y, n));
  }
  void scale(DType dt, std::int64_t n, double s, void* y) override {
    CARNOT_WIDEN_OR_PASS(scale, (dt, n, s, y));
    f_.scale(kF32, n, s, c.inout(y, n));
  }
  void fill_zero(DType dt, std::int64_t n, void* y) override {
    f_.fill_zero(dt, n, y);  // clears n · dtype_size(dt) bytes in any table (kernels/ops.h): no widening
  }
  void timestep_embedding(DType dt, std::int64_t rows, std::int64_t dim, const float* t, const SinusoidStyle& style,
                          void* out) override {
    CARNOT_WIDEN_OR_PASS(timestep_embedding, (dt, rows, dim, t, style, out));
    f_.timestep_embedding(kF32, rows, dim, t, style, c.out(out, rows * dim));
  }
  void convert(std::int64_t n, DType from, const void* x, DType to, void* y, bool accumulate) override {
    f_.convert(n, from, x, to, y, accumulate);
  }
  double sum_squares(DType dt, std::int64_t n, const void* x) override {
    CARNOT_WIDEN_OR_PASS(sum_squares, (dt, n, x));
    return f_.sum_squares(kF32, n, c.in(x, n));
  }
  double mse_loss(DType dt, std::int64_t rows, std::int64_t cols, const void* pred, const void* target,
                  const float* row_weights, double grad_scale, void* dpred) override {
    CARNOT_WIDEN_OR_PASS(mse_loss, (dt, rows, cols, pred, target, row_weights, grad_scale, dpred));
    const std::int64_t n = rows * cols;
    return f_.mse_loss(kF32, rows, cols, c.in(pred, n), c.in(target, n), row_weights, grad_scale, c.out(dpred, n));
  }
#undef CARNOT_WIDEN_OR_PASS

  // float32 only: the master weights' optimizers, and q_sample.
  void adamw_step(std::int64_t n, float* param, const float* grad, float* m, float* v, float lr, float beta1,
                  float beta2, float eps, float weight_decay, std::int64_t step) override {
    f_.adamw_step(n, param, grad, m, v, lr, beta1, beta2, eps, weight_decay, step);
  }
  void sgd_step(std::int64_t n, float* param, const float* grad, float* buf, float lr, float momentum,
                float weight_decay, bool nesterov) override {
    f_.sgd_step(n, param, grad, buf, lr, momentum, weight_decay, nesterov);
  }
  void ema_update(std::int64_t n, float decay, const float* param, float* ema) override {
    f_.ema_update(n, decay, param, ema);
  }
  void adamw_ema_step(std::int64_t n, float* param, float* grad, double grad_scale, float* m, float* v, float lr,
                      float beta1, float beta2, float eps, float weight_decay, std::int64_t step, float* ema,
                      float ema_decay, void* param_bf16) override {  // float32 buffers: the inner table's own
    f_.adamw_ema_step(n, param, grad, grad_scale, m, v, lr, beta1, beta2, eps, weight_decay, step, ema, ema_decay,
                      param_bf16);
  }
  void q_sample_eps(const double* abar, int steps, std::uint64_t seed, std::uint32_t step, std::uint32_t first,
                    std::int64_t n, std::int64_t dim, const float* x0, float* t, float* eps, float* x_t) override {
    f_.q_sample_eps(abar, steps, seed, step, first, n, dim, x0, t, eps, x_t);
  }

 private:
  Ops& f_;
  ScratchPool pool_;
  std::mutex mutex_;
};

}  // namespace

std::unique_ptr<Ops> make_bf16_widening(Ops& inner, ScratchMemory memory) {
  return std::make_unique<Bf16Widening>(inner, memory);
}

}  // namespace carnot
