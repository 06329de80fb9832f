#include "framework/nn/dit.h"

#include <algorithm>
#include <cmath>

#include "framework/core/error.h"

namespace carnot {

DitConfig DitConfig::preset(const std::string& size, std::int64_t patch) {
  DitConfig c;
  c.patch = patch;
  if (size == "S") c.hidden = 384, c.depth = 12, c.heads = 6;
  else if (size == "B") c.hidden = 768, c.depth = 12, c.heads = 12;
  else if (size == "L") c.hidden = 1024, c.depth = 24, c.heads = 16;
  else if (size == "XL") c.hidden = 1152, c.depth = 28, c.heads = 16;
  else throw UsageError("DiT size '" + size + "' is not one of S, B, L, XL");
  return c;
}

void DitConfig::validate() const {
  CARNOT_CHECK(patch > 0 && input_size % patch == 0, "model.patch ", patch, " must divide model.input_size ", input_size);
  CARNOT_CHECK(heads > 0 && hidden % heads == 0, "model.heads ", heads, " must divide model.hidden ", hidden);
  CARNOT_CHECK(hidden % 4 == 0, "model.hidden ", hidden, " must be a multiple of 4 (2-D sin-cos position embedding)");
}

std::int64_t dit_parameter_count(const DitConfig& c) {
  const std::int64_t C = c.hidden, P2 = c.patch * c.patch, M = c.mlp_ratio * C;
  const std::int64_t embed = C * c.in_channels * P2 + C + c.tokens() * C;
  const std::int64_t t = c.frequency_dim * C + C + C * C + C;
  const std::int64_t y = c.num_classes > 0 ? c.table_rows() * C : 0;
  const std::int64_t block = (C * 6 * C + 6 * C) + (C * 3 * C + 3 * C) + (C * C + C) + (C * M + M) + (M * C + C);
  const std::int64_t final = (C * 2 * C + 2 * C) + (C * P2 * c.out_channels() + P2 * c.out_channels());
  return embed + t + y + c.depth * block + final;
}

double dit_forward_flops(const DitConfig& c) {
  const double C = double(c.hidden), N = double(c.tokens()), P2 = double(c.patch * c.patch), M = double(c.mlp_ratio) * C;
  const double macs = N * C * c.in_channels * P2 + double(c.frequency_dim) * C + C * C +
                      double(c.depth) * (6 * C * C + N * (3 * C * C + C * C + 2 * C * M) + 2 * N * N * C) +
                      2 * C * C + N * C * P2 * double(c.out_channels());
  return 2 * macs;
}

std::int64_t dit_activation_elements(const DitConfig& c) {
  const std::int64_t C = c.hidden, N = c.tokens(), M = c.mlp_ratio * C;
  // Per block: mod 6C; per token m1, att, a, h_mid, m2, f2, h_out (7C), qkv 3C, f1 and GELU(f1) 2M,
  // LN stats 4, attention's log-sum-exp H (the fused adaLN keeps no normalised copies). GELU(f1) is
  // kept rather than recomputed in backward (as PyTorch's autograd keeps it): on the H100 the
  // recompute cost DiT-B/2 3% of its step for 31% more activation memory than this.
  const std::int64_t block = 6 * C + N * (9 * C + 2 * M + 4 + c.heads), output = N * C;
  const std::int64_t blocks = c.recompute ? (c.depth > 0 ? block : 0) + c.depth * output : c.depth * (block + output);
  return 2 * C * N + 3 * C + blocks + N * (2 * C + c.patch * c.patch * c.out_channels() + 2);
}

std::vector<double> sincos_pos_embed_2d(std::int64_t dim, std::int64_t grid) {
  // Token (i, j) (row i, column j): the first dim/2 features encode j, the rest i, each as
  // [sin(pos ω_k), cos(pos ω_k)], ω_k = 10000^(−k/(dim/4)) (MAE's get_2d_sincos_pos_embed).
  std::vector<double> e(std::size_t(grid * grid * dim));
  const std::int64_t quarter = dim / 4;
  for (std::int64_t i = 0; i < grid; ++i)
    for (std::int64_t j = 0; j < grid; ++j) {
      double* row = e.data() + (i * grid + j) * dim;
      for (int half = 0; half < 2; ++half) {
        const double pos = half == 0 ? double(j) : double(i);
        for (std::int64_t k = 0; k < quarter; ++k) {
          const double omega = 1.0 / std::pow(10000.0, double(k) / double(quarter));
          row[half * 2 * quarter + k] = std::sin(pos * omega);
          row[half * 2 * quarter + quarter + k] = std::cos(pos * omega);
        }
      }
    }
  return e;
}

// What a block's backward reads besides its input and output.
struct Dit::Saved {
  Buffer mod, dmod, ln1_mean, ln1_rstd, m1, qkv_out, lse, att, a, h_mid, ln2_mean, ln2_rstd, m2, f1, g1, f2;
};

struct Dit::Block {
  Linear ada, qkv, proj, fc1, fc2;  // registered in this order: ada's gradients lie last of the block's
  Saved* saved;                     // its own, or the one all blocks share under recompute
  Buffer h_out;
};

struct Dit::Final {
  Linear ada, linear;
  Buffer mod, dmod, mean, rstd, mf, out_tokens;
};

namespace {
ParamInit zero() { return ParamInit::zero(); }
}  // namespace

Dit::Dit(const DitConfig& config, DType dtype, Ops& ops, std::int64_t max_batch, std::uint64_t seed)
    : config_(config),
      dtype_(dtype),
      ops_(ops),
      max_batch_(max_batch),
      store_(dtype, device_of(ops)) {
  config.validate();
  const Device device = store_.device();
  const DitConfig& c = config_;
  const std::int64_t C = c.hidden, N = c.tokens(), R = max_batch * N, M = c.mlp_ratio * C;
  const std::int64_t P2 = c.patch * c.patch;
  patch_weight_ = store_.add("x_embedder.proj.weight", Shape{C, c.in_channels, c.patch, c.patch},
                             ParamInit::xavier(c.in_channels * P2, C));
  patch_bias_ = store_.add("x_embedder.proj.bias", Shape{C}, zero());
  t_embedder_ = std::make_unique<TimeEmbedding>(ops, store_, "t_embedder", c.frequency_dim, C, max_batch,
                                                ParamInit::normal(0.02), zero());
  if (c.num_classes > 0)
    table_ = store_.add("y_embedder.embedding_table.weight", Shape{c.table_rows(), C}, ParamInit::normal(0.02));
  auto act = [&](std::int64_t cols) { return Buffer(dtype, Shape{R, cols}, device); };
  auto per_sample = [&](std::int64_t cols) { return Buffer(dtype, Shape{max_batch, cols}, device); };
  auto stats = [&] { return Buffer(stats_dtype(dtype), Shape{R}, device); };
  for (std::int64_t k = 0; k < c.depth; ++k) {
    const std::string b = "blocks." + std::to_string(k);
    block_names_.push_back(b);
    if (!c.recompute || saved_.empty())
      saved_.push_back(std::unique_ptr<Saved>(new Saved{
          per_sample(6 * C), per_sample(6 * C), stats(), stats(), act(C), act(3 * C),
          Buffer(stats_dtype(dtype), Shape{max_batch * c.heads * N}, device), act(C), act(C), act(C), stats(), stats(),
          act(C), act(M), act(M), act(C)}));
    blocks_.push_back(std::unique_ptr<Block>(new Block{
        Linear(ops, store_, b + ".adaLN_modulation.1", C, 6 * C, zero(), zero()),
        Linear(ops, store_, b + ".attn.qkv", C, 3 * C, ParamInit::xavier(C, 3 * C), zero()),
        Linear(ops, store_, b + ".attn.proj", C, C, ParamInit::xavier(C, C), zero()),
        Linear(ops, store_, b + ".mlp.fc1", C, M, ParamInit::xavier(C, M), zero()),
        Linear(ops, store_, b + ".mlp.fc2", M, C, ParamInit::xavier(M, C), zero()), saved_.back().get(), act(C)}));
  }
  final_ = std::unique_ptr<Final>(new Final{
      Linear(ops, store_, "final_layer.adaLN_modulation.1", C, 2 * C, zero(), zero()),
      Linear(ops, store_, "final_layer.linear", C, P2 * c.out_channels(), zero(), zero()), per_sample(2 * C),
      per_sample(2 * C), stats(), stats(), act(C), act(P2 * c.out_channels())});
  store_.finalize(seed);

  const std::vector<double> pos = sincos_pos_embed_2d(C, c.grid());
  Buffer pos_host(dtype, Shape{1, N, C});
  cpu_ops().convert(std::int64_t(pos.size()), DType::F64, pos.data(), dtype, pos_host.tensor().raw(), false);
  pos_embed_ = Buffer(dtype, Shape{1, N, C}, device);
  copy_bytes(pos_embed_.tensor(), pos_host.tensor());

  const Conv2dShape g{max_batch, c.in_channels, c.input_size, c.input_size, C, c.patch, c.patch, 0};
  patches_ = per_sample(C * N);
  h0_ = act(C);
  temb_ = per_sample(C);
  cond_ = per_sample(C);
  cond_act_ = per_sample(C);
  dcond_act_ = per_sample(C);
  dcond_ = per_sample(C);
  scratch_c_ = per_sample(C);
  conv_work_ = Buffer(dtype, Shape{g.workspace_elements()}, device);
  attn_work_ = Buffer(dtype, Shape{attention_workspace_elements(N)}, device);
  dh_ = act(C);
  dtmp_ = act(std::max<std::int64_t>(M, 3 * C));
  dtokens_out_ = act(P2 * c.out_channels());
  dpatches_ = per_sample(C * N);
  scratch_a_ = act(C);
  scratch_b_ = act(C);
}

Dit::~Dit() = default;

void Dit::forward(const Tensor& x_in, const float* t, const std::int64_t* y, const Tensor& out_in) {
  const DitConfig& c = config_;
  const std::int64_t n = x_in.dim(0), C = c.hidden, N = c.tokens(), R = n * N, H = c.input_size;
  // Flat rows are the same memory as images.
  const Tensor x = x_in.shape().rank() == 2 ? Tensor(x_in.raw(), x_in.dtype(), Shape{n, c.in_channels, H, H}) : x_in;
  const Tensor out =
      out_in.shape().rank() == 2 ? Tensor(out_in.raw(), out_in.dtype(), Shape{n, c.out_channels(), H, H}) : out_in;
  CARNOT_CHECK(n <= max_batch_ && x.dim(1) == c.in_channels && x.dim(2) == H && x.dim(3) == H,
               "DiT for ", c.in_channels, "×", H, "×", H, " images (batch ≤ ", max_batch_, ") got x ", x.shape().str());
  CARNOT_CHECK(out.dim(0) == n && out.dim(1) == c.out_channels(), "DiT output ", out.shape().str(), " for ", n,
               " samples of ", c.out_channels(), " channels");
  x_ = x;
  y_ = y;
  n_ = n;
  const DType dt = dtype_;
  auto rows = [&](const Buffer& b, std::int64_t r) { return b.tensor().rows(0, r); };
  const Conv2dShape g{n, c.in_channels, H, H, C, c.patch, c.patch, 0};
  ops_.conv2d_forward(dt, g, x.raw(), store_.value(patch_weight_).raw(), store_.value(patch_bias_).raw(),
                      conv_work_.tensor().raw(), patches_.tensor().raw());
  const Tensor h0 = rows(h0_, R);
  ops_.transpose_batched(dt, n, C, N, patches_.tensor().raw(), h0.raw());
  ops_.add_bias(dt, n, N * C, pos_embed_.tensor().raw(), h0.raw());  // each sample's [N, C] += pos_embed: one call

  const Tensor temb = rows(temb_, n), cond = rows(cond_, n), cond_act = rows(cond_act_, n);
  t_embedder_->forward(t, n, temb);
  if (c.num_classes > 0) {
    check_class_labels(y, n, c.table_rows(), store_.device(), "DiT");
    ops_.embedding_forward(dt, n, C, store_.value(table_).raw(), store_.value(table_).dim(0), y, cond.raw());
    ops_.accumulate(dt, n * C, temb.raw(), cond.raw());
  } else {
    ops_.fill_zero(dt, n * C, cond.raw());
    ops_.accumulate(dt, n * C, temb.raw(), cond.raw());
  }
  ops_.silu_forward(dt, n * C, cond.raw(), cond_act.raw());

  Tensor h = h0;
  for (auto& blk : blocks_) {
    block_forward(*blk, h, cond_act, n);
    h = rows(blk->h_out, R);
  }
  Final& f = *final_;
  const Tensor fmod = rows(f.mod, n), mf = rows(f.mf, R), tokens = rows(f.out_tokens, R);
  f.ada.forward(cond_act, fmod);
  ops_.layer_norm_modulate_forward(dt, n, N, C, 1e-6, h.raw(), fmod.raw(),
                                   static_cast<char*>(fmod.raw()) + C * dtype_size(dt), 2 * C, mf.raw(),
                                   f.mean.tensor().raw(), f.rstd.tensor().raw());
  f.linear.forward(mf, tokens);
  ops_.unpatchify(dt, n, c.grid(), c.grid(), c.patch, c.out_channels(), true, tokens.raw(), out.raw());
}

// h_out = h_mid + gate_mlp · MLP(modulate(LN(h_mid))), h_mid = h_in + gate_msa · Attn(modulate(LN(h_in))).
void Dit::block_forward(Block& k, const Tensor& h, const Tensor& cond_act, std::int64_t n) {
  const DitConfig& c = config_;
  const std::int64_t C = c.hidden, N = c.tokens(), R = n * N, D = C / c.heads, S6 = 6 * C;
  const DType dt = dtype_;
  Saved& s = *k.saved;
  auto rows = [&](const Buffer& b, std::int64_t r) { return b.tensor().rows(0, r); };
  const Tensor mod = rows(s.mod, n), m1 = rows(s.m1, R), qkv = rows(s.qkv_out, R), att = rows(s.att, R),
               a = rows(s.a, R), h_mid = rows(s.h_mid, R), m2 = rows(s.m2, R), f1 = rows(s.f1, R), g1 = rows(s.g1, R),
               f2 = rows(s.f2, R), h_out = rows(k.h_out, R);
  auto at = [&](std::int64_t chunk) { return static_cast<char*>(mod.raw()) + chunk * C * dtype_size(dt); };
  k.ada.forward(cond_act, mod);
  ops_.layer_norm_modulate_forward(dt, n, N, C, 1e-6, h.raw(), at(0), at(1), S6, m1.raw(), s.ln1_mean.tensor().raw(),
                                   s.ln1_rstd.tensor().raw());
  k.qkv.forward(m1, qkv);
  ops_.attention_forward(dt, n, N, c.heads, D, qkv.raw(), attn_work_.tensor().raw(), s.lse.tensor().raw(), att.raw());
  k.proj.forward(att, a);
  ops_.gated_residual_forward(dt, n, N, C, h.raw(), a.raw(), at(2), S6, h_mid.raw());
  ops_.layer_norm_modulate_forward(dt, n, N, C, 1e-6, h_mid.raw(), at(3), at(4), S6, m2.raw(),
                                   s.ln2_mean.tensor().raw(), s.ln2_rstd.tensor().raw());
  k.fc1.forward_gelu(m2, f1, g1);
  k.fc2.forward(g1, f2);
  ops_.gated_residual_forward(dt, n, N, C, h_mid.raw(), f2.raw(), at(5), S6, h_out.raw());
}

void Dit::backward(const Tensor& dout, const Tensor& dx) {
  CARNOT_CHECK(dx.raw() == nullptr, "DiT computes no input gradient (learned β needs model.kind mlp)");
  const DitConfig& c = config_;
  const std::int64_t n = n_, C = c.hidden, N = c.tokens(), R = n * N, D = C / c.heads, S6 = 6 * C;
  const DType dt = dtype_;
  auto rows = [&](const Buffer& b, std::int64_t r) { return b.tensor().rows(0, r); };
  const Tensor dh = rows(dh_, R), s1 = rows(scratch_a_, R), s2 = rows(scratch_b_, R), cond_act = rows(cond_act_, n),
               dcond_act = rows(dcond_act_, n), dc = rows(scratch_c_, n);
  auto big = [&](std::int64_t cols) { return Tensor(dtmp_.tensor().raw(), dt, Shape{R, cols}); };
  auto chunk = [&](const Tensor& t, std::int64_t i) { return static_cast<char*>(t.raw()) + i * C * dtype_size(dt); };

  Final& f = *final_;
  const Tensor dtok = rows(dtokens_out_, R), fmod = rows(f.mod, n), fdmod = rows(f.dmod, n);
  const Tensor h_last = blocks_.empty() ? rows(h0_, R) : rows(blocks_.back()->h_out, R);
  ops_.unpatchify(dt, n, c.grid(), c.grid(), c.patch, c.out_channels(), false, dout.raw(), dtok.raw());
  f.linear.backward(rows(f.mf, R), dtok, s1);
  ops_.layer_norm_modulate_backward(dt, n, N, C, h_last.raw(), f.mean.tensor().raw(), f.rstd.tensor().raw(),
                                    chunk(fmod, 1), 2 * C, s1.raw(), dh.raw(), chunk(fdmod, 0), chunk(fdmod, 1),
                                    /*accumulate_dx=*/false);
  f.ada.backward(cond_act, fdmod, dcond_act);
  ready(std::max(f.ada.flat_end(), f.linear.flat_end()), "final_layer");

  for (std::size_t i = blocks_.size(); i-- > 0;) {
    Block& k = *blocks_[i];
    const Tensor h_in = i == 0 ? rows(h0_, R) : rows(blocks_[i - 1]->h_out, R);
    if (c.recompute) block_forward(k, h_in, cond_act, n);  // the shared buffers hold this block again
    Saved& sv = *k.saved;
    const Tensor mod = rows(sv.mod, n), dmod = rows(sv.dmod, n);
    // The MLP half: h_out = h_mid + gate_mlp · fc2(GELU(fc1(modulate(LN(h_mid))))).
    ops_.gated_residual_backward(dt, n, N, C, rows(sv.f2, R).raw(), chunk(mod, 5), S6, dh.raw(), s1.raw(),
                                 chunk(dmod, 5));
    const Tensor df1 = big(c.mlp_ratio * C);
    k.fc2.backward_gelu(rows(sv.g1, R), s1, rows(sv.f1, R), df1, k.fc1);  // through GELU, fc1's bias too
    k.fc1.backward(rows(sv.m2, R), df1, s1, /*bias_done=*/true);
    ops_.layer_norm_modulate_backward(dt, n, N, C, rows(sv.h_mid, R).raw(), sv.ln2_mean.tensor().raw(),
                                      sv.ln2_rstd.tensor().raw(), chunk(mod, 4), S6, s1.raw(), dh.raw(),
                                      chunk(dmod, 3), chunk(dmod, 4), /*accumulate_dx=*/true);  // dh: now d/dh_mid
    // The attention half: h_mid = h_in + gate_msa · proj(Attn(qkv(modulate(LN(h_in))))).
    ops_.gated_residual_backward(dt, n, N, C, rows(sv.a, R).raw(), chunk(mod, 2), S6, dh.raw(), s1.raw(),
                                 chunk(dmod, 2));
    k.proj.backward(rows(sv.att, R), s1, s2);
    const Tensor dqkv = big(3 * C);
    ops_.attention_backward(dt, n, N, c.heads, D, rows(sv.qkv_out, R).raw(), sv.lse.tensor().raw(),
                            rows(sv.att, R).raw(), s2.raw(), attn_work_.tensor().raw(), dqkv.raw());
    k.qkv.backward(rows(sv.m1, R), dqkv, s1);
    ops_.layer_norm_modulate_backward(dt, n, N, C, h_in.raw(), sv.ln1_mean.tensor().raw(), sv.ln1_rstd.tensor().raw(),
                                      chunk(mod, 1), S6, s1.raw(), dh.raw(), chunk(dmod, 0), chunk(dmod, 1),
                                      /*accumulate_dx=*/true);  // dh: now d/dh_in
    k.ada.backward(cond_act, dmod, dc);
    ops_.accumulate(dt, n * C, dc.raw(), dcond_act.raw());
    ready(k.ada.flat_end(), block_names_[i].c_str());
  }
  // c = t_embedder(t) + y_embedder(y); SiLU(c) feeds every adaLN.
  const Tensor dcond = rows(dcond_, n);
  ops_.silu_backward(dt, n * C, rows(cond_, n).raw(), dcond_act.raw(), dcond.raw());
  t_embedder_->backward(dcond);
  if (c.num_classes > 0) ops_.embedding_backward(dt, n, C, y_, dcond.raw(), store_.grad(table_).raw(), store_.grad(table_).dim(0));
  // Tokens back to the patch grid; pos_embed is fixed.
  ops_.transpose_batched(dt, n, N, C, dh.raw(), dpatches_.tensor().raw());
  const Conv2dShape g{n, c.in_channels, c.input_size, c.input_size, C, c.patch, c.patch, 0};
  ops_.conv2d_backward(dt, g, x_.raw(), store_.value(patch_weight_).raw(), dpatches_.tensor().raw(),
                       conv_work_.tensor().raw(), nullptr, store_.grad(patch_weight_).raw(),
                       store_.grad(patch_bias_).raw());
  ready(store_.values().numel(), "embedders");
}

Symmetries Dit::symmetries() const {
  Symmetries s;
  const std::int64_t C = config_.hidden, d = C / config_.heads;
  for (const std::string& b : block_names_) {
    const ParamInfo &qkv = param_named(store_, b + ".attn.qkv.weight"), &qkv_bias = param_named(store_, b + ".attn.qkv.bias");
    add_attention_pairs(s, b + ".attn", config_.heads, d, {&qkv, &qkv_bias, 0}, {&qkv, &qkv_bias, C},
                        {&qkv, &qkv_bias, 2 * C}, param_named(store_, b + ".attn.proj.weight"));
  }
  return s;
}

Tensor Dit::features(const std::string& layer) const {
  for (std::size_t k = 0; k < block_names_.size(); ++k)
    if (block_names_[k] == layer) {
      const std::int64_t width = config_.tokens() * config_.hidden;
      return Tensor(blocks_[k]->h_out.tensor().raw(), dtype_, Shape{n_, width}, store_.device());
    }
  return ScoreNetwork::features(layer);
}

}  // namespace carnot
