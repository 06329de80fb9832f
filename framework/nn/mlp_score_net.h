// The MLP score network for low-dimensional data (Swiss roll, mixtures):
//   temb = TimeEmbedding(t);  h = Linear(x)
//   depth × residual block:  h += fc2(φ(N(fc1(φ(h + temb)))))
//   out = Linear(φ(h))
// φ is SiLU (default) or ReLU; N is the identity or a LayerNorm without affine (layer_norm). With
// ReLU and no N, fc1 → ReLU → fc2 is a rescaling symmetry; with N, fc1 is scale-invariant.
// Explicit forward and backward; activations for max_batch rows are allocated at construction.
#pragma once
#include <functional>
#include <string>
#include <memory>
#include <vector>

#include "framework/nn/linear.h"
#include "framework/nn/score_network.h"
#include "framework/nn/time_embedding.h"

namespace carnot {

struct MlpConfig {
  std::int64_t data_dim = 2;
  std::int64_t hidden = 128;
  std::int64_t depth = 4;
  std::int64_t time_embed = 32;
  std::int64_t out_dim = 0;  // outputs per row; 0: data_dim (more with learned variances)
  std::int64_t outputs() const { return out_dim > 0 ? out_dim : data_dim; }
  // A learned schedule's logits (diffusion/learned_betas.h), kept with the weights so that they
  // are reduced, optimised, averaged and checkpointed alike; the network itself does not read them.
  std::int64_t beta_logits = 0;
  enum class Activation { kSilu, kRelu } activation = Activation::kSilu;
  bool layer_norm = false;  // N: LayerNorm (no affine) after each block's fc1
  double norm_eps = 1e-5;   // nn.LayerNorm's default; 0 makes fc1's scale invariance exact
};

// What a model of this config costs, computed without building it (for `carnot validate`).
struct MlpPlan {
  std::int64_t parameters = 0;
  std::int64_t activation_elements = 0;  // saved for backward plus scratch, for `rows` rows
  std::int64_t forward_flops_per_sample = 0;  // 2 per multiply-add of every Linear
};
MlpPlan plan_mlp(const MlpConfig& config, std::int64_t rows);

class MlpScoreNet final : public ScoreNetwork {
 public:
  MlpScoreNet(const MlpConfig& config, DType dtype, Ops& ops, std::int64_t max_batch,
              std::uint64_t seed);

  // out[n, outputs] = net(x[n, D], t[n]); n ≤ max_batch. x must stay unchanged until backward.
  void forward(const Tensor& x, const float* t, const Tensor& out);
  void forward(const Tensor& x, const float* t, const std::int64_t*, const Tensor& out) override { forward(x, t, out); }
  // Accumulates every parameter's gradient from dout[n, outputs] (grads are not zeroed here);
  // with dx given ([n, D]) also writes the gradient with respect to the input x.
  void backward(const Tensor& dout, const Tensor& dx) override;
  void backward(const Tensor& dout) { backward(dout, Tensor()); }
  // Told, during backward, after each module (final_layer, blocks.K from the last, input_proj,
  // t_embedder), its name and how far the final gradients reach in the flat buffer: every element
  // below the mark is complete (gradient buckets start their all-reduce on it; the timeline marks
  // the module's span). The name lives as long as the model. Unset: not told.
  void set_grads_ready(GradsReady hook) override { grads_ready_ = std::move(hook); }

  ParameterStore& params() override { return store_; }
  // The learned schedule's logits and their gradients (empty without them).
  Tensor beta_logits() const override { return config_.beta_logits > 0 ? store_.value(beta_logits_) : Tensor(); }
  Tensor beta_logit_grads() const override {
    return config_.beta_logits > 0 ? store_.grad(beta_logits_) : Tensor();
  }
  const ParameterStore& params() const override { return store_; }
  Symmetries symmetries() const override;
  // blocks.K: the residual stream after block K, [n, hidden].
  std::vector<std::string> feature_layers() const override;
  Tensor features(const std::string& layer) const override;
  std::int64_t outputs() const override { return config_.outputs(); }
  const MlpConfig& config() const { return config_; }
  std::int64_t max_batch() const { return max_batch_; }
  // Elements of every activation and scratch buffer this model allocated.
  std::int64_t activation_elements() const;

 private:
  struct Block {
    Linear fc1, fc2;
    Buffer pre1, act1, pre2, act2, out;  // h + temb, φ, N(fc1(.)), φ, h_next
    Buffer lin, mean, rstd;              // with N: fc1(.) and its statistics
    std::string name;                    // blocks.K
  };

  MlpConfig config_;
  DType dtype_;
  Ops& ops_;
  std::int64_t max_batch_;
  ParameterStore store_;
  TimeEmbedding time_embed_;
  Linear input_;
  std::vector<std::unique_ptr<Block>> blocks_;
  std::unique_ptr<Linear> output_;
  ParamHandle beta_logits_;
  GradsReady grads_ready_;  // built after the blocks: registration is forward order
  Buffer temb_, h0_, final_act_;
  Buffer grad_h_, grad_a_, grad_b_, grad_temb_;
  Tensor x_;  // forward's input, for the input layer's backward
  void activation(const Tensor& x, const Tensor& y);
  void activation_backward(const Tensor& x, const Tensor& dy);  // dy ← dy·φ'(x)
};

}  // namespace carnot
