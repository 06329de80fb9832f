#include "framework/nn/unet.h"

#include <algorithm>

#include "framework/core/error.h"
#include "framework/nn/conv2d.h"
#include "framework/nn/group_norm.h"
#include "framework/nn/time_embedding.h"
#include "framework/nn/unet_blocks.h"

namespace carnot {

UNetConfig UNetConfig::ddpm_cifar10() { return UNetConfig{}; }

bool UNetConfig::attention_at(std::int64_t l) const {
  return std::find(attention_resolutions.begin(), attention_resolutions.end(), level_side(l)) !=
         attention_resolutions.end();
}

void UNetConfig::validate() const {
  CARNOT_CHECK(sample_size > 0 && in_channels > 0 && channels > 0 && res_blocks > 0 && groups > 0 && head_dim >= 0,
               "U-Net sizes must be positive: sample_size ", sample_size, ", in_channels ", in_channels, ", channels ",
               channels, ", res_blocks ", res_blocks, ", groups ", groups, " (head_dim ", head_dim, " ≥ 0)");
  CARNOT_CHECK(!channel_mult.empty() && channel_mult.size() <= 30, "model.channel_mult needs 1 to 30 levels, got ",
               channel_mult.size());
  for (std::int64_t m : channel_mult) CARNOT_CHECK(m > 0, "model.channel_mult: multipliers must be positive, got ", m);
  const std::int64_t down = std::int64_t(1) << (levels() - 1);
  CARNOT_CHECK(sample_size % down == 0, "the image side ", sample_size, " must be divisible by 2^(levels − 1) = ",
               down, " for ", levels(), " levels (data.pad_to can pad it)");
  for (std::int64_t l = 0; l < levels(); ++l) {
    const std::int64_t c = level_channels(l);
    CARNOT_CHECK(c > 0 && c % groups == 0, "model.groups ", groups, " must divide every level's channels (level ", l,
                 " has ", c, ")");
    CARNOT_CHECK(head_dim == 0 || (attention_at(l) ? c % head_dim == 0 : true), "model.head_dim ", head_dim,
                 " must divide the channels of attention level ", l, " (", c, ")");
  }
  CARNOT_CHECK(head_dim == 0 || level_channels(levels() - 1) % head_dim == 0, "model.head_dim ", head_dim,
               " must divide the middle block's ", level_channels(levels() - 1), " channels");
}

std::vector<UNetStep> unet_steps(const UNetConfig& c) {
  using K = UNetStepKind;
  std::vector<UNetStep> steps;
  const std::int64_t L = c.levels();
  std::int64_t cur = c.channels, side = c.sample_size;
  std::vector<std::int64_t> kept;  // channels of the maps kept for the up path
  steps.push_back({K::kConvIn, "conv_in", c.in_channels, cur, side});
  steps.push_back({K::kPush, "", cur, cur, side});
  kept.push_back(cur);
  for (std::int64_t l = 0; l < L; ++l) {
    const std::string level = "down_blocks." + std::to_string(l);
    const std::int64_t ch = c.level_channels(l);
    for (std::int64_t r = 0; r < c.res_blocks; ++r) {
      steps.push_back({K::kRes, level + ".resnets." + std::to_string(r), cur, ch, side});
      cur = ch;
      if (c.attention_at(l)) steps.push_back({K::kAttn, level + ".attentions." + std::to_string(r), ch, ch, side});
      steps.push_back({K::kPush, "", ch, ch, side});
      kept.push_back(ch);
    }
    if (l + 1 < L) {
      steps.push_back({K::kDown, level + ".downsamplers.0.conv", ch, ch, side});
      side /= 2;
      steps.push_back({K::kPush, "", ch, ch, side});
      kept.push_back(ch);
    }
  }
  steps.push_back({K::kRes, "mid_block.resnets.0", cur, cur, side});
  steps.push_back({K::kAttn, "mid_block.attentions.0", cur, cur, side});
  steps.push_back({K::kRes, "mid_block.resnets.1", cur, cur, side});
  for (std::int64_t i = 0; i < L; ++i) {
    const std::int64_t l = L - 1 - i, ch = c.level_channels(l);
    const std::string level = "up_blocks." + std::to_string(i);
    for (std::int64_t r = 0; r <= c.res_blocks; ++r) {
      const std::int64_t skip = kept.back();
      kept.pop_back();
      steps.push_back({K::kCat, "", cur, cur + skip, side});
      steps.push_back({K::kRes, level + ".resnets." + std::to_string(r), cur + skip, ch, side});
      cur = ch;
      if (c.attention_at(l)) steps.push_back({K::kAttn, level + ".attentions." + std::to_string(r), ch, ch, side});
    }
    if (l > 0) {
      steps.push_back({K::kUp, level + ".upsamplers.0.conv", ch, ch, side});
      side *= 2;
    }
  }
  steps.push_back({K::kOut, "conv_out", cur, c.out_channels(), side});
  return steps;
}

namespace {

std::int64_t conv_params(std::int64_t cin, std::int64_t cout, std::int64_t k) { return cout * cin * k * k + cout; }
std::int64_t linear_params(std::int64_t in, std::int64_t out) { return in * out + out; }

}  // namespace

std::int64_t unet_parameter_count(const UNetConfig& c) {
  const std::int64_t T = c.time_dim();
  std::int64_t p = linear_params(c.channels, T) + linear_params(T, T) + (c.num_classes > 0 ? c.table_rows() * T : 0);
  for (const UNetStep& s : unet_steps(c)) switch (s.kind) {
      case UNetStepKind::kConvIn: p += conv_params(s.cin, s.cout, 3); break;
      case UNetStepKind::kRes:
        p += 2 * s.cin + conv_params(s.cin, s.cout, 3) + linear_params(T, s.cout) + 2 * s.cout +
             conv_params(s.cout, s.cout, 3) + (s.cin != s.cout ? conv_params(s.cin, s.cout, 1) : 0);
        break;
      case UNetStepKind::kAttn: p += 2 * s.cin + 4 * linear_params(s.cin, s.cin); break;
      case UNetStepKind::kDown:
      case UNetStepKind::kUp: p += conv_params(s.cin, s.cout, 3); break;
      case UNetStepKind::kOut: p += 2 * s.cin + conv_params(s.cin, s.cout, 3); break;
      default: break;
    }
  return p;
}

double unet_forward_flops(const UNetConfig& c) {
  const double T = double(c.time_dim());
  double macs = double(c.channels) * T + T * T;
  auto conv = [](double cin, double cout, double k, double out_side) { return cout * cin * k * k * out_side * out_side; };
  for (const UNetStep& s : unet_steps(c)) {
    const double ci = double(s.cin), co = double(s.cout), side = double(s.side), hw = side * side;
    switch (s.kind) {
      case UNetStepKind::kConvIn:
      case UNetStepKind::kOut: macs += conv(ci, co, 3, side); break;
      case UNetStepKind::kRes:
        macs += conv(ci, co, 3, side) + T * co + conv(co, co, 3, side) + (s.cin != s.cout ? conv(ci, co, 1, side) : 0);
        break;
      case UNetStepKind::kAttn: macs += 4 * hw * ci * ci + 2 * hw * hw * ci; break;  // q, k, v, out; QKᵀ and PV
      case UNetStepKind::kDown: macs += conv(ci, co, 3, side / 2); break;
      case UNetStepKind::kUp: macs += conv(ci, co, 3, 2 * side); break;
      default: break;
    }
  }
  return 2 * macs;
}

std::int64_t unet_activation_elements(const UNetConfig& c) {
  std::int64_t e = 4 * c.time_dim(), widest = 0, kept = 0;
  for (const UNetStep& s : unet_steps(c)) {
    const std::int64_t hw = s.side * s.side;
    widest = std::max({widest, std::max(s.cin, s.cout) * hw, s.kind == UNetStepKind::kAttn ? 3 * s.cin * hw : 0,
                       s.kind == UNetStepKind::kUp ? s.cout * 4 * hw : 0});
    switch (s.kind) {
      case UNetStepKind::kConvIn: e += s.cout * hw; break;
      case UNetStepKind::kRes: e += 2 * s.cin * hw + (c.dropout > 0 ? 5 : 4) * s.cout * hw + s.cout; break;
      case UNetStepKind::kAttn: e += 6 * s.cin * hw + c.heads_of(s.cin) * hw; break;  // lse per head and token
      case UNetStepKind::kDown: e += s.cout * hw / 4; break;
      case UNetStepKind::kUp: e += 2 * s.cout * 4 * hw; break;
      case UNetStepKind::kPush: kept += s.cout * hw; break;
      case UNetStepKind::kCat: e += s.cout * hw; break;
      case UNetStepKind::kOut: e += 2 * s.cin * hw; break;
    }
  }
  return e + kept + 5 * widest;  // the kept maps' gradients, three scratch and two gradient buffers
}

// One step of the sequence at run time: its module (if any), output buffer and what forward saw.
struct UNetNode {
  UNetStep step;
  std::unique_ptr<ResBlock> res;
  std::unique_ptr<AttnBlock> attn;
  std::unique_ptr<Conv2d> conv;  // conv_in, down- and up-sampling, conv_out
  std::unique_ptr<GroupNorm> norm;  // conv_norm_out
  Buffer out, up;  // up: the up-sampled input of kUp; kOut: GN(h) in out, SiLU of it in up
  Buffer dkept;    // kPush: the gradient the up path sends to the kept map
  int push = -1;   // kCat: the index (in the node list) of the kPush that kept its second input
  Tensor in;       // forward's input
};

struct UNet::Impl {
  Impl(Ops& ops, DType dtype, std::int64_t max_batch, TimeEmbedding time)
      : sh{ops, dtype, max_batch, {}, {}, {}, {}, {}, {}, {}, nullptr}, time_embedding(std::move(time)) {}
  UNetShared sh;
  TimeEmbedding time_embedding;
  ParamHandle table;
  std::vector<UNetNode> nodes;
  Buffer emb, emb_act, demb_act, demb, grad_a, grad_b;
  const std::int64_t* y = nullptr;
  std::int64_t n = 0;
  DropoutKey key;
  bool training = false;
};

namespace {
Tensor image(const Buffer& b, std::int64_t n, std::int64_t c, std::int64_t side) {
  return Tensor(b.tensor().raw(), b.tensor().dtype(), Shape{n, c, side, side}, b.device());
}
}  // namespace

UNet::UNet(const UNetConfig& config, DType dtype, Ops& ops, std::int64_t max_batch, std::uint64_t seed)
    : config_(config), store_(dtype, device_of(ops)) {
  config.validate();
  const UNetConfig& c = config_;
  const std::int64_t T = c.time_dim(), B = max_batch;
  const ParamInit zero = ParamInit::zero();
  // The time and class embeddings register first, so their gradients (final only when backward
  // ends) lie last in the flat buffer.
  m_ = std::make_unique<Impl>(ops, dtype, B,
                              TimeEmbedding(ops, store_, "time_embedding", c.channels, T, B,
                                            ParamInit::xavier(c.channels, T), zero, TimeEmbeddingLayout::diffusers()));
  Impl& m = *m_;
  // N(0, 1), nn.Embedding's default (diffusers' class_embedding): as large as the time embedding, so
  // the label is heard from the start (N(0, 0.02²) left a short run nearly unconditional).
  if (c.num_classes > 0) m.table = store_.add("class_embedding.weight", Shape{c.table_rows(), T}, ParamInit::normal(1.0));
  std::int64_t widest = 0, conv_work = 0, attn_work = 0;
  std::uint32_t dropout_block = 0;
  std::vector<int> kept;  // node indices of the kPush steps whose maps are still to be joined
  for (const UNetStep& s : unet_steps(c)) {
    UNetNode node;
    node.step = s;
    const std::int64_t hw = s.side * s.side;
    widest = std::max({widest, std::max(s.cin, s.cout) * hw, s.kind == UNetStepKind::kAttn ? 3 * s.cin * hw : 0,
                       s.kind == UNetStepKind::kUp ? s.cout * 4 * hw : 0});
    switch (s.kind) {
      case UNetStepKind::kConvIn:
        node.conv = std::make_unique<Conv2d>(ops, store_, s.name, s.cin, s.cout, 3, 1, 1,
                                             ParamInit::xavier(s.cin * 9, s.cout * 9), zero);
        node.out = Buffer(dtype, Shape{B, s.cout * hw}, store_.device());
        break;
      case UNetStepKind::kRes:
        node.res = std::make_unique<ResBlock>(m.sh, store_, s.name, s.cin, s.cout, s.side, T, c.groups, c.norm_eps,
                                              c.dropout, dropout_block);
        dropout_block += node.res->dropout_blocks();
        break;
      case UNetStepKind::kAttn:
        node.attn = std::make_unique<AttnBlock>(m.sh, store_, s.name, s.cin, s.side,
                                                c.head_dim > 0 ? c.head_dim : s.cin, c.groups, c.norm_eps);
        attn_work = std::max(attn_work, attention_workspace_elements(hw));
        break;
      case UNetStepKind::kDown:
        node.conv = std::make_unique<Conv2d>(ops, store_, s.name, s.cin, s.cout, 3, 2, c.ddpm_downsample_padding ? 0 : 1,
                                             ParamInit::xavier(s.cin * 9, s.cout * 9), zero,
                                             c.ddpm_downsample_padding ? 1 : 0);
        node.out = Buffer(dtype, Shape{B, s.cout * hw / 4}, store_.device());
        break;
      case UNetStepKind::kUp:
        node.conv = std::make_unique<Conv2d>(ops, store_, s.name, s.cin, s.cout, 3, 1, 1,
                                             ParamInit::xavier(s.cin * 9, s.cout * 9), zero);
        node.up = Buffer(dtype, Shape{B, s.cin * 4 * hw}, store_.device());
        node.out = Buffer(dtype, Shape{B, s.cout * 4 * hw}, store_.device());
        break;
      case UNetStepKind::kPush:
        kept.push_back(int(m.nodes.size()));
        node.dkept = Buffer(dtype, Shape{B, s.cout * hw}, store_.device());
        break;
      case UNetStepKind::kCat:
        node.push = kept.back();
        kept.pop_back();
        node.out = Buffer(dtype, Shape{B, s.cout * hw}, store_.device());
        break;
      case UNetStepKind::kOut:
        node.norm = std::make_unique<GroupNorm>(ops, store_, "conv_norm_out", s.cin, c.groups, c.norm_eps, B);
        node.conv = std::make_unique<Conv2d>(ops, store_, s.name, s.cin, s.cout, 3, 1, 1, zero, zero);
        node.out = Buffer(dtype, Shape{B, s.cin * hw}, store_.device());
        node.up = Buffer(dtype, Shape{B, s.cin * hw}, store_.device());
        break;
    }
    if (node.conv) {
      const Conv2dShape g = node.conv->shape(1, s.kind == UNetStepKind::kUp ? 2 * s.side : s.side);
      conv_work = std::max(conv_work, g.workspace_elements());
    }
    if (node.res) conv_work = std::max(conv_work, node.res->conv_workspace());
    m.nodes.push_back(std::move(node));
  }
  store_.finalize(seed);
  m.sh.conv_work = Buffer(dtype, Shape{conv_work}, store_.device());
  m.sh.attn_work = Buffer(dtype, Shape{std::max<std::int64_t>(attn_work, 1)}, store_.device());
  m.sh.scratch_a = Buffer(dtype, Shape{B, widest}, store_.device());
  m.sh.scratch_b = Buffer(dtype, Shape{B, widest}, store_.device());
  m.sh.scratch_c = Buffer(dtype, Shape{B, widest}, store_.device());
  m.grad_a = Buffer(dtype, Shape{B, widest}, store_.device());
  m.grad_b = Buffer(dtype, Shape{B, widest}, store_.device());
  m.emb = Buffer(dtype, Shape{B, T}, store_.device());
  m.emb_act = Buffer(dtype, Shape{B, T}, store_.device());
  m.demb_act = Buffer(dtype, Shape{B, T}, store_.device());
  m.demb = Buffer(dtype, Shape{B, T}, store_.device());
}

UNet::~UNet() = default;

void UNet::set_dropout(const DropoutKey* key) {
  m_->training = key != nullptr;
  if (key) m_->key = *key;
}

void UNet::forward(const Tensor& x_in, const float* t, const std::int64_t* y, const Tensor& out_in) {
  const UNetConfig& c = config_;
  Impl& m = *m_;
  Ops& ops = m.sh.ops;
  const DType dt = store_.dtype();
  const std::int64_t n = x_in.dim(0), S = c.sample_size, T = c.time_dim();
  const Tensor x(x_in.raw(), x_in.dtype(), Shape{n, c.in_channels, S, S});
  const Tensor out(out_in.raw(), out_in.dtype(), Shape{n, c.out_channels(), S, S});
  CARNOT_CHECK(n <= m.sh.max_batch && x_in.numel() == n * c.in_channels * S * S &&
                   out_in.numel() == n * c.out_channels() * S * S,
               "U-Net for ", c.in_channels, "×", S, "×", S, " images (batch ≤ ", m.sh.max_batch, ") got x ",
               x_in.shape().str(), " and out ", out_in.shape().str());
  m.n = n;
  m.y = y;
  m.sh.dropout = m.training ? &m.key : nullptr;
  const Tensor emb = m.emb.tensor().rows(0, n), emb_act = m.emb_act.tensor().rows(0, n);
  m.time_embedding.forward(t, n, emb);
  if (c.num_classes > 0) {
    check_class_labels(y, n, c.table_rows(), store_.device(), "U-Net");
    const Tensor cls = m.demb.tensor().rows(0, n);  // free until backward
    ops.embedding_forward(dt, n, T, store_.value(m.table).raw(), store_.value(m.table).dim(0), y, cls.raw());
    ops.accumulate(dt, n * T, cls.raw(), emb.raw());
  }
  ops.silu_forward(dt, n * T, emb.raw(), emb_act.raw());
  m.sh.emb_act = emb_act;

  Tensor h = x;
  std::vector<Tensor> kept;
  void* work = m.sh.conv_work.tensor().raw();
  for (UNetNode& node : m.nodes) {
    const UNetStep& s = node.step;
    node.in = h;
    switch (s.kind) {
      case UNetStepKind::kConvIn: {
        const Tensor o = image(node.out, n, s.cout, s.side);
        node.conv->forward(h, o, work);
        h = o;
        break;
      }
      case UNetStepKind::kRes: h = node.res->forward(h); break;
      case UNetStepKind::kAttn: h = node.attn->forward(h); break;
      case UNetStepKind::kDown: {
        const Tensor o = image(node.out, n, s.cout, s.side / 2);
        node.conv->forward(h, o, work);
        h = o;
        break;
      }
      case UNetStepKind::kUp: {
        const Tensor u = image(node.up, n, s.cin, 2 * s.side), o = image(node.out, n, s.cout, 2 * s.side);
        ops.upsample2x_forward(dt, n * s.cin, s.side, s.side, h.raw(), u.raw());
        node.conv->forward(u, o, work);
        h = o;
        break;
      }
      case UNetStepKind::kPush: kept.push_back(h); break;
      case UNetStepKind::kCat: {
        const Tensor skip = kept.back();
        kept.pop_back();
        const std::int64_t hw = s.side * s.side, c1 = s.cin, c2 = s.cout - s.cin;
        const Tensor o = image(node.out, n, s.cout, s.side);
        const std::size_t es = dtype_size(dt);
        ops.copy_blocks(dt, n, c1 * hw, h.raw(), c1 * hw, o.raw(), s.cout * hw, false);
        ops.copy_blocks(dt, n, c2 * hw, skip.raw(), c2 * hw, static_cast<char*>(o.raw()) + c1 * hw * es, s.cout * hw,
                        false);
        h = o;
        break;
      }
      case UNetStepKind::kOut: {
        const Tensor nrm = image(node.out, n, s.cin, s.side), act = image(node.up, n, s.cin, s.side);
        node.norm->forward(h, nrm);
        ops.silu_forward(dt, nrm.numel(), nrm.raw(), act.raw());
        node.conv->forward(act, out, work);
        break;
      }
    }
  }
}

void UNet::backward(const Tensor& dout_in, const Tensor& dx) {
  CARNOT_CHECK(dx.raw() == nullptr, "the U-Net computes no input gradient (learned β needs model.kind mlp)");
  const UNetConfig& c = config_;
  Impl& m = *m_;
  Ops& ops = m.sh.ops;
  const DType dt = store_.dtype();
  const std::int64_t n = m.n, T = c.time_dim();
  const std::size_t es = dtype_size(dt);
  void* work = m.sh.conv_work.tensor().raw();
  m.sh.demb_act = m.demb_act.tensor().rows(0, n);
  ops.fill_zero(dt, n * T, m.sh.demb_act.raw());
  Buffer* cur = &m.grad_a;
  Buffer* other = &m.grad_b;
  auto ready = [&](ParamHandle first, const std::string& name) {
    if (grads_ready_) grads_ready_(store_.flat_end(first), name.c_str());
  };
  for (auto it = m.nodes.rbegin(); it != m.nodes.rend(); ++it) {
    UNetNode& node = *it;
    const UNetStep& s = node.step;
    const std::int64_t hw = s.side * s.side;
    switch (s.kind) {
      case UNetStepKind::kOut: {
        const Tensor dout(dout_in.raw(), dout_in.dtype(), Shape{n, s.cout, s.side, s.side});
        const Tensor a = image(m.sh.scratch_a, n, s.cin, s.side);
        node.conv->backward(image(node.up, n, s.cin, s.side), dout, a, work);
        ops.silu_backward(dt, a.numel(), node.out.tensor().raw(), a.raw(), a.raw());
        node.norm->backward(node.in, a, image(*cur, n, s.cin, s.side));
        ready(node.norm->first_param(), "conv_out");
        break;
      }
      case UNetStepKind::kRes:
        node.res->backward(image(*cur, n, s.cout, s.side), image(*other, n, s.cin, s.side));
        std::swap(cur, other);
        ready(node.res->first_param(), s.name);
        break;
      case UNetStepKind::kAttn:
        node.attn->backward(image(*cur, n, s.cout, s.side), image(*other, n, s.cin, s.side));
        std::swap(cur, other);
        ready(node.attn->first_param(), s.name);
        break;
      case UNetStepKind::kDown:
        node.conv->backward(node.in, image(*cur, n, s.cout, s.side / 2), image(*other, n, s.cin, s.side), work);
        std::swap(cur, other);
        ready(node.conv->first_param(), s.name);
        break;
      case UNetStepKind::kUp: {
        const Tensor du = image(m.sh.scratch_a, n, s.cin, 2 * s.side);
        node.conv->backward(image(node.up, n, s.cin, 2 * s.side), image(*cur, n, s.cout, 2 * s.side), du, work);
        ops.upsample2x_backward(dt, n * s.cin, s.side, s.side, du.raw(), other->tensor().raw());
        std::swap(cur, other);
        ready(node.conv->first_param(), s.name);
        break;
      }
      case UNetStepKind::kCat: {  // split: the first channels continue down, the rest go to the kept map
        const std::int64_t c1 = s.cin, c2 = s.cout - s.cin;
        const char* d = static_cast<const char*>(cur->tensor().raw());
        ops.copy_blocks(dt, n, c1 * hw, d, s.cout * hw, other->tensor().raw(), c1 * hw, false);
        ops.copy_blocks(dt, n, c2 * hw, d + c1 * hw * es, s.cout * hw,
                        m.nodes[std::size_t(node.push)].dkept.tensor().raw(), c2 * hw, false);
        std::swap(cur, other);
        break;
      }
      case UNetStepKind::kPush:
        ops.accumulate(dt, n * s.cout * hw, node.dkept.tensor().raw(), cur->tensor().raw());
        break;
      case UNetStepKind::kConvIn:
        node.conv->backward(node.in, image(*cur, n, s.cout, s.side), Tensor(), work);
        ready(node.conv->first_param(), s.name);
        break;
    }
  }
  // emb = MLP(sinusoid(t)) [+ class_embedding(y)]; every block used SiLU(emb).
  const Tensor demb = m.demb.tensor().rows(0, n);
  ops.silu_backward(dt, n * T, m.emb.tensor().raw(), m.sh.demb_act.raw(), demb.raw());
  m.time_embedding.backward(demb);
  if (c.num_classes > 0) ops.embedding_backward(dt, n, T, m.y, demb.raw(), store_.grad(m.table).raw(), store_.grad(m.table).dim(0));
  if (grads_ready_) grads_ready_(store_.values().numel(), "embeddings");
}

std::vector<std::string> UNet::feature_layers() const {
  std::vector<std::string> names;
  for (const UNetNode& node : m_->nodes)
    if (node.step.kind == UNetStepKind::kRes || node.step.kind == UNetStepKind::kAttn) names.push_back(node.step.name);
  return names;
}

// A block's output is the next node's saved input (kept for backward).
Tensor UNet::features(const std::string& layer) const {
  const std::vector<UNetNode>& nodes = m_->nodes;
  for (std::size_t i = 0; i + 1 < nodes.size(); ++i)
    if (nodes[i].step.name == layer &&
        (nodes[i].step.kind == UNetStepKind::kRes || nodes[i].step.kind == UNetStepKind::kAttn)) {
      const Tensor& out = nodes[i + 1].in;
      return Tensor(out.raw(), out.dtype(), Shape{m_->n, out.numel() / out.dim(0)}, out.device());
    }
  return ScoreNetwork::features(layer);
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

// Attention blocks: per head, to_q-to_k and to_v-to_out.0. Residual blocks: conv1 and the time
// projection (weights and biases) add up before norm2's GroupNorm, which undoes a common scale.
Symmetries UNet::symmetries() const {
  Symmetries s;
  for (const ParamInfo& p : store_.params()) {
    if (ends_with(p.name, ".to_q.weight")) {
      const std::string at = p.name.substr(0, p.name.size() - 12);
      const std::int64_t C = p.shape[0], d = config_.head_dim > 0 ? config_.head_dim : C;
      auto slice = [&](const char* proj) {
        return HeadSlice{&param_named(store_, at + proj + ".weight"), &param_named(store_, at + proj + ".bias"), 0};
      };
      add_attention_pairs(s, at, C / d, d, slice(".to_q"), slice(".to_k"), slice(".to_v"),
                          param_named(store_, at + ".to_out.0.weight"));
    } else if (ends_with(p.name, ".conv1.weight")) {
      const std::string at = p.name.substr(0, p.name.size() - 13);
      ScaleInvariantGroup g{at + ".conv1+time_emb_proj", {}};
      for (const char* name : {".conv1.weight", ".conv1.bias", ".time_emb_proj.weight", ".time_emb_proj.bias"})
        g.group.add_all(param_named(store_, at + name));
      s.scale_invariant.push_back(std::move(g));
    }
  }
  return s;
}

}  // namespace carnot
