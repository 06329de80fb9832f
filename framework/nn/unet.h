// The DDPM U-Net (Ho et al. 2020) with the names of diffusers' UNet2DModel, so its state dict and
// ours hold the same tensors: conv_in, time_embedding.linear_{1,2}, class_embedding (with
// classes), down_blocks.L.{resnets,attentions}.R, down_blocks.L.downsamplers.0.conv, mid_block,
// up_blocks.I.{resnets,attentions}.R, up_blocks.I.upsamplers.0.conv, conv_norm_out, conv_out.
//
// Levels l = 0..L−1 have channels·channel_mult[l] channels at side S/2^l; each has res_blocks
// residual blocks on the way down (attention after each where the side is in
// attention_resolutions) and one more on the way up, where every block first concatenates the
// matching down-path output. Time enters every residual block through SiLU(emb), emb =
// MLP(sinusoid(t)) [+ class embedding]. Inputs and outputs may be flat rows, as the trainer has them.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "framework/nn/parameters.h"
#include "framework/nn/score_network.h"

namespace carnot {

struct UNetConfig {
  std::int64_t sample_size = 32, in_channels = 3;
  std::int64_t channels = 128;  // the first level's (diffusers' block_out_channels[0])
  std::vector<std::int64_t> channel_mult = {1, 2, 2, 2};
  std::int64_t res_blocks = 2;  // per level on the way down (diffusers' layers_per_block)
  std::vector<std::int64_t> attention_resolutions = {16};
  std::int64_t groups = 32;
  double norm_eps = 1e-6;
  double dropout = 0.1;
  std::int64_t head_dim = 0;  // 0: one head as wide as the block (diffusers' attention_head_dim None)
  // DDPM's down-sampling pads (0, 1, 0, 1) (diffusers' downsample_padding 0); false pads 1 all round.
  bool ddpm_downsample_padding = true;
  std::int64_t num_classes = 0;  // 0: unconditional (no class_embedding)
  double class_dropout = 0;      // > 0 adds the null class for classifier-free guidance
  bool learn_sigma = false;

  // DDPM's CIFAR-10 model: 35,746,307 parameters.
  static UNetConfig ddpm_cifar10();
  std::int64_t levels() const { return std::int64_t(channel_mult.size()); }
  std::int64_t level_channels(std::int64_t l) const { return channels * channel_mult[std::size_t(l)]; }
  std::int64_t level_side(std::int64_t l) const { return sample_size >> l; }
  bool attention_at(std::int64_t l) const;
  std::int64_t time_dim() const { return 4 * channels; }
  std::int64_t out_channels() const { return learn_sigma ? 2 * in_channels : in_channels; }
  std::int64_t table_rows() const { return num_classes + (class_dropout > 0 ? 1 : 0); }
  std::int64_t heads_of(std::int64_t c) const { return head_dim > 0 ? c / head_dim : 1; }
  // Checks sizes (groups divide channels, the side halves evenly...); throws naming the key.
  void validate() const;
};

// The network as a sequence of steps; kPush keeps the current map for the up path, kCat joins the
// latest kept map to the current one along channels.
enum class UNetStepKind { kConvIn, kRes, kAttn, kDown, kUp, kPush, kCat, kOut };
struct UNetStep {
  UNetStepKind kind;
  std::string name;  // the module's prefix in the state dict
  std::int64_t cin = 0, cout = 0, side = 0;  // side: of the input
};
std::vector<UNetStep> unet_steps(const UNetConfig& c);

// Parameters as diffusers counts them (sum of numel over model.parameters()).
std::int64_t unet_parameter_count(const UNetConfig& c);
// Forward FLOPs per sample (2 per multiply-add: convolutions, linear layers and attention).
double unet_forward_flops(const UNetConfig& c);
// Activation elements kept for backward per sample.
std::int64_t unet_activation_elements(const UNetConfig& c);

class UNet final : public ScoreNetwork {
 public:
  UNet(const UNetConfig& config, DType dtype, Ops& ops, std::int64_t max_batch, std::uint64_t seed);
  ~UNet();

  // out[B, Cout, S, S] from x[B, Cin, S, S], times t[B] (DDPM's step index) and labels y[B].
  void forward(const Tensor& x, const float* t, const std::int64_t* y, const Tensor& out) override;
  // Accumulates every parameter's gradient (the input gets none: dx must be empty).
  void backward(const Tensor& dout, const Tensor& dx) override;
  std::int64_t outputs() const override {
    return config_.out_channels() * config_.sample_size * config_.sample_size;
  }
  void set_grads_ready(GradsReady hook) override { grads_ready_ = std::move(hook); }
  void set_dropout(const DropoutKey* key) override;

  const UNetConfig& config() const { return config_; }
  ParameterStore& params() override { return store_; }
  const ParameterStore& params() const override { return store_; }
  // Per attention block and head, to_q-to_k and to_v-to_out.0; per residual block, conv1 with the
  // time projection is scale-invariant (GroupNorm follows).
  Symmetries symmetries() const override;
  // Every residual and attention block's output ([n, C·side²]); by default mid_block.attentions.0.
  std::vector<std::string> feature_layers() const override;
  Tensor features(const std::string& layer) const override;
  std::string default_feature_layer() const override { return "mid_block.attentions.0"; }

 private:
  struct Impl;
  UNetConfig config_;
  ParameterStore store_;
  std::unique_ptr<Impl> m_;
  GradsReady grads_ready_;
};

}  // namespace carnot
