#include "framework/nn/mlp_score_net.h"

namespace carnot {

MlpPlan plan_mlp(const MlpConfig& c, std::int64_t rows) {
  const std::int64_t H = c.hidden, D = c.data_dim, E = c.time_embed, O = c.outputs();
  auto linear = [](std::int64_t in, std::int64_t out) { return in * out + out; };
  MlpPlan p;
  p.parameters = linear(E, H) + linear(H, H) + linear(D, H) + c.depth * 2 * linear(H, H) + linear(H, O) + c.beta_logits;
  p.forward_flops_per_sample = 2 * (E * H + H * H + D * H + c.depth * 2 * H * H + H * O);
  // Time embedding: features [E] + 3 × [H]; per block 5 × [H] (with N one more and two
  // statistics); model: temb, h0, final φ and four gradient scratch buffers, all [H].
  p.activation_elements = rows * (E + 3 * H + c.depth * (c.layer_norm ? 6 * H + 2 : 5 * H) + 7 * H);
  return p;
}

std::int64_t MlpScoreNet::activation_elements() const {
  std::int64_t n = time_embed_.activation_elements();
  for (const auto& b : blocks_)
    n += b->pre1.numel() + b->act1.numel() + b->pre2.numel() + b->act2.numel() + b->out.numel() +
         (config_.layer_norm ? b->lin.numel() + b->mean.numel() + b->rstd.numel() : 0);
  for (const Buffer* buf : {&temb_, &h0_, &final_act_, &grad_h_, &grad_a_, &grad_b_, &grad_temb_})
    n += buf->numel();
  return n;
}

MlpScoreNet::MlpScoreNet(const MlpConfig& config, DType dtype, Ops& ops, std::int64_t max_batch,
                         std::uint64_t seed)
    : config_(config),
      dtype_(dtype),
      ops_(ops),
      max_batch_(max_batch),
      store_(dtype, device_of(ops)),
      time_embed_(ops, store_, "t_embedder", config.time_embed, config.hidden, max_batch),
      input_(ops, store_, "input_proj", config.data_dim, config.hidden) {
  const Shape hidden{max_batch, config.hidden};
  if (config.beta_logits > 0)
    beta_logits_ = store_.add("schedule.beta_logits", Shape{config.beta_logits}, ParamInit::zero());
  for (std::int64_t k = 0; k < config.depth; ++k) {
    const std::string name = "blocks." + std::to_string(k);
    blocks_.push_back(std::unique_ptr<Block>(
        new Block{Linear(ops, store_, name + ".fc1", config.hidden, config.hidden),
                  Linear(ops, store_, name + ".fc2", config.hidden, config.hidden),
                  Buffer(dtype, hidden, store_.device()), Buffer(dtype, hidden, store_.device()),
                  Buffer(dtype, hidden, store_.device()), Buffer(dtype, hidden, store_.device()),
                  Buffer(dtype, hidden, store_.device()), {}, {}, {}, name}));
    if (config.layer_norm) {
      Block& b = *blocks_.back();
      b.lin = Buffer(dtype, hidden, store_.device());
      b.mean = Buffer(stats_dtype(dtype), Shape{max_batch}, store_.device());
      b.rstd = Buffer(stats_dtype(dtype), Shape{max_batch}, store_.device());
    }
  }
  output_ = std::make_unique<Linear>(ops, store_, "final_layer", config.hidden, config.outputs());
  temb_ = Buffer(dtype, hidden, store_.device());
  h0_ = Buffer(dtype, hidden, store_.device());
  final_act_ = Buffer(dtype, hidden, store_.device());
  grad_h_ = Buffer(dtype, hidden, store_.device());
  grad_a_ = Buffer(dtype, hidden, store_.device());
  grad_b_ = Buffer(dtype, hidden, store_.device());
  grad_temb_ = Buffer(dtype, hidden, store_.device());
  store_.finalize(seed);
}

void MlpScoreNet::forward(const Tensor& x, const float* t, const Tensor& out) {
  const std::int64_t n = x.dim(0);
  CARNOT_CHECK(n <= max_batch_, "batch of ", n, " rows exceeds the planned ", max_batch_);
  CARNOT_CHECK(x.dtype() == dtype_ && out.dtype() == dtype_, "MLP of ", dtype_name(dtype_),
               " got input ", dtype_name(x.dtype()));
  x_ = x;
  const Tensor temb = temb_.tensor().rows(0, n);
  time_embed_.forward(t, n, temb);
  Tensor h = h0_.tensor().rows(0, n);
  input_.forward(x, h);
  for (auto& b : blocks_) {
    const Tensor pre1 = b->pre1.tensor().rows(0, n), act1 = b->act1.tensor().rows(0, n),
                 pre2 = b->pre2.tensor().rows(0, n), act2 = b->act2.tensor().rows(0, n),
                 next = b->out.tensor().rows(0, n);
    ops_.add(dtype_, h.numel(), h.raw(), temb.raw(), pre1.raw());
    activation(pre1, act1);
    if (config_.layer_norm) {
      const Tensor lin = b->lin.tensor().rows(0, n);
      b->fc1.forward(act1, lin);
      ops_.layer_norm_forward(dtype_, n, config_.hidden, config_.norm_eps, lin.raw(), pre2.raw(), b->mean.tensor().raw(), b->rstd.tensor().raw());
    } else {
      b->fc1.forward(act1, pre2);
    }
    activation(pre2, act2);
    b->fc2.forward(act2, next);
    ops_.accumulate(dtype_, next.numel(), h.raw(), next.raw());
    h = next;
  }
  const Tensor act = final_act_.tensor().rows(0, n);
  activation(h, act);
  output_->forward(act, out);
}

void MlpScoreNet::backward(const Tensor& dout, const Tensor& dx) {
  const std::int64_t n = x_.dim(0);
  const Tensor dh = grad_h_.tensor().rows(0, n), da = grad_a_.tensor().rows(0, n),
               db = grad_b_.tensor().rows(0, n), dtemb = grad_temb_.tensor().rows(0, n);
  const Tensor h_last = blocks_.empty() ? h0_.tensor().rows(0, n)
                                        : blocks_.back()->out.tensor().rows(0, n);
  // out = final_layer(φ(h_L))
  std::int64_t mark = 0;
  auto ready = [&](std::int64_t reach, const char* module) {
    mark = std::max(mark, reach);
    if (grads_ready_) grads_ready_(mark, module);
  };
  output_->backward(final_act_.tensor().rows(0, n), dout, dh);
  ready(output_->flat_end(), "final_layer");
  activation_backward(h_last, dh);
  ops_.fill_zero(dtype_, dtemb.numel(), dtemb.raw());
  // h_{k+1} = h_k + fc2(φ(N(fc1(φ(h_k + temb))))); dh holds dL/dh_{k+1} on entry.
  for (auto it = blocks_.rbegin(); it != blocks_.rend(); ++it) {
    Block& b = **it;
    const Tensor pre1 = b.pre1.tensor().rows(0, n), act1 = b.act1.tensor().rows(0, n),
                 pre2 = b.pre2.tensor().rows(0, n), act2 = b.act2.tensor().rows(0, n);
    b.fc2.backward(act2, dh, da);
    activation_backward(pre2, da);  // da: dL/dN(fc1(.))
    if (config_.layer_norm)         // db: dL/dfc1(.), back through N
      ops_.layer_norm_backward(dtype_, n, config_.hidden, b.lin.tensor().raw(), b.mean.tensor().raw(), b.rstd.tensor().raw(), da.raw(), db.raw());
    const Tensor dfc1 = config_.layer_norm ? db : da, dact1 = config_.layer_norm ? da : db;
    b.fc1.backward(act1, dfc1, dact1);
    activation_backward(pre1, dact1);
    ops_.accumulate(dtype_, dact1.numel(), dact1.raw(), dh.raw());    // residual path
    ops_.accumulate(dtype_, dact1.numel(), dact1.raw(), dtemb.raw());  // time embedding path
    ready(std::max(b.fc1.flat_end(), b.fc2.flat_end()), b.name.c_str());
  }
  input_.backward(x_, dh, dx);
  // With learned β their logits lie between the blocks and the input layer, and get their
  // gradient from the trainer after backward: the mark stops short of them.
  ready(config_.beta_logits == 0 ? input_.flat_end() : mark, "input_proj");
  time_embed_.backward(dtemb);
  ready(config_.beta_logits == 0 ? store_.values().numel() : mark, "t_embedder");
}

void MlpScoreNet::activation(const Tensor& x, const Tensor& y) {
  if (config_.activation == MlpConfig::Activation::kRelu)
    ops_.relu_forward(dtype_, x.numel(), x.raw(), y.raw());
  else
    ops_.silu_forward(dtype_, x.numel(), x.raw(), y.raw());
}

void MlpScoreNet::activation_backward(const Tensor& x, const Tensor& dy) {
  if (config_.activation == MlpConfig::Activation::kRelu)
    ops_.relu_backward(dtype_, x.numel(), x.raw(), dy.raw(), dy.raw());
  else
    ops_.silu_backward(dtype_, x.numel(), x.raw(), dy.raw(), dy.raw());
}

// With ReLU and no N, each block's fc1 (rows and bias) and fc2 (columns) trade a scale per hidden
// unit; measured per layer, as the pair of whole layers. With N, fc1 (weight and bias) is
// scale-invariant, and fc1-fc2 no longer a pair (N undoes fc1's scale, so fc2's alone would show).
Symmetries MlpScoreNet::symmetries() const {
  Symmetries s;
  for (const auto& b : blocks_) {
    const ParamInfo &w1 = param_named(store_, b->name + ".fc1.weight"), &b1 = param_named(store_, b->name + ".fc1.bias"),
                    &w2 = param_named(store_, b->name + ".fc2.weight");
    if (config_.layer_norm) {
      ScaleInvariantGroup g{b->name + ".fc1", {}};
      g.group.add_all(w1);
      g.group.add_all(b1);
      s.scale_invariant.push_back(std::move(g));
    } else if (config_.activation == MlpConfig::Activation::kRelu) {
      RescalingPair p{b->name + ".fc1-fc2", {}, {}};
      p.u.add_all(w1);
      p.u.add_all(b1);
      p.w.add_all(w2);
      s.pairs.push_back(std::move(p));
    }
  }
  return s;
}

std::vector<std::string> MlpScoreNet::feature_layers() const {
  std::vector<std::string> names;
  for (const auto& b : blocks_) names.push_back(b->name);
  return names;
}

Tensor MlpScoreNet::features(const std::string& layer) const {
  for (const auto& b : blocks_)
    if (b->name == layer) return b->out.tensor().rows(0, x_.dim(0));
  return ScoreNetwork::features(layer);
}

}  // namespace carnot
