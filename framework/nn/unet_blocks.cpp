#include "framework/nn/unet_blocks.h"

#include <algorithm>

namespace carnot {

namespace {

// DDPM's initialisation: Glorot-uniform weights ("fan_avg" variance scaling), zero biases, and
// zero for each residual branch's last layer (conv2, the attention's output) so that every block
// starts as the identity.
ParamInit conv_init(std::int64_t cin, std::int64_t cout, std::int64_t k) { return ParamInit::xavier(cin * k * k, cout * k * k); }

Tensor image(const Buffer& b, std::int64_t n, std::int64_t c, std::int64_t side) {
  return Tensor(b.tensor().raw(), b.tensor().dtype(), Shape{n, c, side, side}, b.device());
}

Tensor image(const Tensor& t, std::int64_t n, std::int64_t c, std::int64_t side) {
  return Tensor(t.raw(), t.dtype(), Shape{n, c, side, side}, t.device());
}

Tensor matrix(const Buffer& b, std::int64_t rows, std::int64_t cols) {
  return Tensor(b.tensor().raw(), b.tensor().dtype(), Shape{rows, cols}, b.device());
}

}  // namespace

struct ResBlock::Impl {
  Impl(UNetShared& sh_, ParameterStore& store, const std::string& name, std::int64_t cin_, std::int64_t cout_,
       std::int64_t side_, std::int64_t temb, std::int64_t groups, double eps, double dropout,
       std::uint32_t dropout_block)
      : sh(sh_), cin(cin_), cout(cout_), side(side_), hw(side_ * side_), p(dropout), block(dropout_block),
        norm1(sh.ops, store, name + ".norm1", cin, groups, eps, sh.max_batch),
        conv1(sh.ops, store, name + ".conv1", cin, cout, 3, 1, 1, conv_init(cin, cout, 3), ParamInit::zero()),
        temb_proj(sh.ops, store, name + ".time_emb_proj", temb, cout, ParamInit::xavier(temb, cout), ParamInit::zero()),
        norm2(sh.ops, store, name + ".norm2", cout, groups, eps, sh.max_batch),
        conv2(sh.ops, store, name + ".conv2", cout, cout, 3, 1, 1, ParamInit::zero(), ParamInit::zero()) {}
  UNetShared& sh;
  std::int64_t cin, cout, side, hw;
  double p;
  std::uint32_t block;
  GroupNorm norm1;
  Conv2d conv1;
  Linear temb_proj;
  GroupNorm norm2;
  Conv2d conv2;
  std::unique_ptr<Conv2d> shortcut;
  Buffer n1, a1, h1, n2, a2, mask, out, tp, dtemb;
  Tensor x;              // the last forward's input
  bool dropped = false;  // whether it applied dropout
};

ResBlock::ResBlock(UNetShared& sh, ParameterStore& store, const std::string& name, std::int64_t cin, std::int64_t cout,
                   std::int64_t side, std::int64_t temb, std::int64_t groups, double eps, double dropout,
                   std::uint32_t dropout_block) {
  const std::int64_t B = sh.max_batch, hw = side * side;
  const ParamInit zero = ParamInit::zero();
  m_ = std::make_unique<Impl>(sh, store, name, cin, cout, side, temb, groups, eps, dropout, dropout_block);
  Impl& m = *m_;
  if (cin != cout)
    m.shortcut = std::make_unique<Conv2d>(sh.ops, store, name + ".conv_shortcut", cin, cout, 1, 1, 0,
                                          conv_init(cin, cout, 1), zero);
  const DType dt = sh.dtype;
  m.n1 = Buffer(dt, Shape{B, cin * hw}, store.device());
  m.a1 = Buffer(dt, Shape{B, cin * hw}, store.device());
  m.h1 = Buffer(dt, Shape{B, cout * hw}, store.device());
  m.n2 = Buffer(dt, Shape{B, cout * hw}, store.device());
  m.a2 = Buffer(dt, Shape{B, cout * hw}, store.device());
  if (dropout > 0) m.mask = Buffer(dt, Shape{B, cout * hw}, store.device());
  m.out = Buffer(dt, Shape{B, cout * hw}, store.device());
  m.tp = Buffer(dt, Shape{B, cout}, store.device());
  m.dtemb = Buffer(dt, Shape{B, temb}, store.device());
}

ResBlock::~ResBlock() = default;

ParamHandle ResBlock::first_param() const { return m_->norm1.first_param(); }

std::uint32_t ResBlock::dropout_blocks() const {
  return m_->p > 0 ? std::uint32_t((m_->cout * m_->hw + 3) / 4) : 0;
}

std::int64_t ResBlock::conv_workspace() const {
  const Impl& m = *m_;
  std::int64_t w = std::max(m.conv1.shape(1, m.side).workspace_elements(), m.conv2.shape(1, m.side).workspace_elements());
  if (m.shortcut) w = std::max(w, m.shortcut->shape(1, m.side).workspace_elements());
  return w;
}

Tensor ResBlock::forward(const Tensor& x) {
  Impl& m = *m_;
  Ops& ops = m.sh.ops;
  const DType dt = m.sh.dtype;
  const std::int64_t n = x.dim(0), s = m.side;
  CARNOT_CHECK(x.dim(1) == m.cin && x.dim(2) == s && n <= m.sh.max_batch, "ResBlock(", m.cin, "→", m.cout, " at ",
               s, "×", s, ") got ", x.shape().str());
  m.x = x;
  const Tensor n1 = image(m.n1, n, m.cin, s), a1 = image(m.a1, n, m.cin, s), h1 = image(m.h1, n, m.cout, s),
               n2 = image(m.n2, n, m.cout, s), a2 = image(m.a2, n, m.cout, s), out = image(m.out, n, m.cout, s),
               tp = matrix(m.tp, n, m.cout);
  void* work = m.sh.conv_work.tensor().raw();
  m.norm1.forward(x, n1);
  ops.silu_forward(dt, n1.numel(), n1.raw(), a1.raw());
  m.conv1.forward(a1, h1, work);
  m.temb_proj.forward(m.sh.emb_act.rows(0, n), tp);
  ops.add_per_plane(dt, n * m.cout, m.hw, tp.raw(), h1.raw());
  m.norm2.forward(h1, n2);
  ops.silu_forward(dt, n2.numel(), n2.raw(), a2.raw());
  m.dropped = m.p > 0 && m.sh.dropout != nullptr;
  if (m.dropped) {  // in place: backward needs the dropped values (conv2's input) and the mask only
    DropoutKey key = *m.sh.dropout;
    key.block += m.block;
    ops.dropout_forward(dt, n, m.cout * m.hw, m.p, key, a2.raw(), a2.raw(), m.mask.tensor().raw());
  }
  m.conv2.forward(a2, out, work);
  if (m.shortcut) {
    const Tensor sc = image(m.sh.a(n), n, m.cout, s);
    m.shortcut->forward(x, sc, work);
    ops.accumulate(dt, out.numel(), sc.raw(), out.raw());
  } else {
    ops.accumulate(dt, out.numel(), x.raw(), out.raw());
  }
  return out;
}

void ResBlock::backward(const Tensor& dout, const Tensor& dx) {
  Impl& m = *m_;
  Ops& ops = m.sh.ops;
  const DType dt = m.sh.dtype;
  const std::int64_t n = m.x.dim(0), s = m.side;
  void* work = m.sh.conv_work.tensor().raw();
  const Tensor a_out = image(m.sh.scratch_a.tensor(), n, m.cout, s), b_out = image(m.sh.scratch_b.tensor(), n, m.cout, s);
  const Tensor a_in = image(m.sh.scratch_a.tensor(), n, m.cin, s), b_in = image(m.sh.scratch_b.tensor(), n, m.cin, s);
  if (m.shortcut)
    m.shortcut->backward(m.x, dout, dx, work);
  else
    ops.copy_blocks(dt, 1, dout.numel(), dout.raw(), 0, dx.raw(), 0, false);
  m.conv2.backward(image(m.a2, n, m.cout, s), dout, a_out, work);
  if (m.dropped) ops.dropout_backward(dt, a_out.numel(), m.mask.tensor().raw(), a_out.raw(), a_out.raw());
  ops.silu_backward(dt, a_out.numel(), m.n2.tensor().raw(), a_out.raw(), a_out.raw());
  m.norm2.backward(image(m.h1, n, m.cout, s), a_out, b_out);  // b: d h1
  const Tensor dtp = matrix(m.tp, n, m.cout), dtemb = matrix(m.dtemb, n, m.dtemb.tensor().dim(1));
  ops.sum_per_plane(dt, n * m.cout, m.hw, b_out.raw(), dtp.raw());  // tp is not needed again: reuse it
  m.temb_proj.backward(m.sh.emb_act.rows(0, n), dtp, dtemb);
  ops.accumulate(dt, dtemb.numel(), dtemb.raw(), m.sh.demb_act.raw());
  m.conv1.backward(image(m.a1, n, m.cin, s), b_out, a_in, work);
  ops.silu_backward(dt, a_in.numel(), m.n1.tensor().raw(), a_in.raw(), a_in.raw());
  m.norm1.backward(m.x, a_in, b_in);
  ops.accumulate(dt, b_in.numel(), b_in.raw(), dx.raw());
}

struct AttnBlock::Impl {
  Impl(UNetShared& sh_, ParameterStore& store_, std::int64_t c_, std::int64_t side_, std::int64_t head_dim_,
       GroupNorm norm_, Linear to_out_)
      : sh(sh_), store(store_), c(c_), side(side_), tokens(side_ * side_), heads(c_ / head_dim_), head_dim(head_dim_),
        norm(std::move(norm_)), to_out(std::move(to_out_)) {}
  UNetShared& sh;
  ParameterStore& store;
  std::int64_t c, side, tokens, heads, head_dim;
  GroupNorm norm;
  ParamHandle w[3], b[3];  // to_q, to_k, to_v
  Linear to_out;
  Buffer tok, qkv, bias3, dbias3, lse, att, out;
  Tensor x;
};

AttnBlock::AttnBlock(UNetShared& sh, ParameterStore& store, const std::string& name, std::int64_t channels,
                     std::int64_t side, std::int64_t head_dim, std::int64_t groups, double eps) {
  const std::int64_t C = channels, N = side * side, B = sh.max_batch;
  CARNOT_CHECK(head_dim > 0 && C % head_dim == 0, name, ": attention head dim ", head_dim, " does not divide ", C,
               " channels");
  GroupNorm norm(sh.ops, store, name + ".group_norm", C, groups, eps, B);
  const ParamInit w = ParamInit::xavier(C, C), zero = ParamInit::zero();
  ParamHandle wh[3], bh[3];
  const char* proj[3] = {".to_q", ".to_k", ".to_v"};
  for (int j = 0; j < 3; ++j) {
    wh[j] = store.add(name + proj[j] + ".weight", Shape{C, C}, w);
    bh[j] = store.add(name + proj[j] + ".bias", Shape{C}, zero);
  }
  Linear to_out(sh.ops, store, name + ".to_out.0", C, C, zero, zero);
  m_ = std::make_unique<Impl>(sh, store, C, side, head_dim, std::move(norm), std::move(to_out));
  for (int j = 0; j < 3; ++j) m_->w[j] = wh[j], m_->b[j] = bh[j];
  const DType dt = sh.dtype;
  m_->tok = Buffer(dt, Shape{B * N, C}, store.device());
  m_->qkv = Buffer(dt, Shape{B * N, 3 * C}, store.device());
  m_->bias3 = Buffer(dt, Shape{3 * C}, store.device());
  m_->dbias3 = Buffer(dt, Shape{3 * C}, store.device());
  m_->lse = Buffer(stats_dtype(dt), Shape{B * m_->heads * N}, store.device());
  m_->att = Buffer(dt, Shape{B * N, C}, store.device());
  m_->out = Buffer(dt, Shape{B, C * N}, store.device());
}

AttnBlock::~AttnBlock() = default;

ParamHandle AttnBlock::first_param() const { return m_->norm.first_param(); }

// q, k and v are three layers (diffusers' to_q, to_k, to_v) computed side by side into the fused
// [tokens, 3C] layout the attention op reads: one GEMM each with a row stride of 3C.
Tensor AttnBlock::forward(const Tensor& x) {
  Impl& m = *m_;
  Ops& ops = m.sh.ops;
  const DType dt = m.sh.dtype;
  const std::int64_t n = x.dim(0), C = m.c, N = m.tokens, R = n * N, s = m.side;
  const std::size_t es = dtype_size(dt);
  CARNOT_CHECK(x.dim(1) == C && x.dim(2) == s && n <= m.sh.max_batch, "AttnBlock(", C, " at ", s, "×", s, ") got ",
               x.shape().str());
  m.x = x;
  const Tensor a = image(m.sh.a(n), n, C, s), out = image(m.out, n, C, s);
  char* qkv = static_cast<char*>(m.qkv.tensor().raw());
  m.norm.forward(x, a);
  ops.transpose_batched(dt, n, C, N, a.raw(), m.tok.tensor().raw());  // [n, C, N] → tokens [n, N, C]
  for (int j = 0; j < 3; ++j) {
    ops.gemm(dt, false, true, R, C, C, 1.0, m.tok.tensor().raw(), C, m.store.value(m.w[j]).raw(), C, 0.0,
             qkv + std::size_t(j * C) * es, 3 * C);
    ops.copy_blocks(dt, 1, C, m.store.value(m.b[j]).raw(), 0, static_cast<char*>(m.bias3.tensor().raw()) + j * C * es,
                    0, false);
  }
  ops.add_bias(dt, R, 3 * C, m.bias3.tensor().raw(), qkv);
  ops.attention_forward(dt, n, N, m.heads, m.head_dim, qkv, m.sh.attn_work.tensor().raw(), m.lse.tensor().raw(),
                        m.att.tensor().raw());
  const Tensor o = Tensor(a.raw(), dt, Shape{R, C});
  m.to_out.forward(matrix(m.att, R, C), o);
  ops.transpose_batched(dt, n, N, C, o.raw(), out.raw());  // back to [n, C, N]
  ops.accumulate(dt, out.numel(), x.raw(), out.raw());
  return out;
}

void AttnBlock::backward(const Tensor& dout, const Tensor& dx) {
  Impl& m = *m_;
  Ops& ops = m.sh.ops;
  const DType dt = m.sh.dtype;
  const std::int64_t n = m.x.dim(0), C = m.c, N = m.tokens, R = n * N;
  const std::size_t es = dtype_size(dt);
  void* a = m.sh.scratch_a.tensor().raw();
  void* b = m.sh.scratch_b.tensor().raw();
  char* dqkv = static_cast<char*>(m.sh.scratch_c.tensor().raw());
  ops.copy_blocks(dt, 1, dout.numel(), dout.raw(), 0, dx.raw(), 0, false);  // the residual
  ops.transpose_batched(dt, n, C, N, dout.raw(), a);
  m.to_out.backward(matrix(m.att, R, C), Tensor(a, dt, Shape{R, C}), Tensor(b, dt, Shape{R, C}));
  ops.attention_backward(dt, n, N, m.heads, m.head_dim, m.qkv.tensor().raw(), m.lse.tensor().raw(),
                         m.att.tensor().raw(), b, m.sh.attn_work.tensor().raw(), dqkv);
  ops.fill_zero(dt, 3 * C, m.dbias3.tensor().raw());
  ops.bias_grad(dt, R, 3 * C, dqkv, m.dbias3.tensor().raw());
  for (int j = 0; j < 3; ++j) {
    const char* dj = dqkv + std::size_t(j * C) * es;
    ops.gemm(dt, true, false, C, C, R, 1.0, dj, 3 * C, m.tok.tensor().raw(), C, 1.0, m.store.grad(m.w[j]).raw(), C);
    ops.accumulate(dt, C, static_cast<char*>(m.dbias3.tensor().raw()) + j * C * es, m.store.grad(m.b[j]).raw());
    ops.gemm(dt, false, false, R, C, C, 1.0, dj, 3 * C, m.store.value(m.w[j]).raw(), C, j == 0 ? 0.0 : 1.0, a, C);
  }
  ops.transpose_batched(dt, n, N, C, a, b);  // d tokens → d GN(x) [n, C, N]
  m.norm.backward(m.x, image(m.sh.scratch_b.tensor(), n, C, m.side), image(m.sh.scratch_a.tensor(), n, C, m.side));
  ops.accumulate(dt, dx.numel(), a, dx.raw());
}

}  // namespace carnot
