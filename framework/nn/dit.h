// DiT (Peebles & Xie 2023): a transformer on patches of the (latent) image, conditioned on time
// and class by adaLN-Zero. Tensor names, shapes and initialisation follow facebookresearch/DiT's
// models.py, so its state dict and ours hold the same tensors (pos_embed too, which is fixed).
//
// Inputs and outputs may also be flat rows (x[B, Cin·H·W], out[B, Cout·H·W]), as the trainer has them.
//
// forward: x[B, Cin, H, W] → patch embedding (conv k = s = p) → tokens [B, N, C] + pos_embed;
// c = t_embedder(t) + y_embedder(y); per block, from SiLU(c) six vectors (shift, scale, gate for
// attention and for the MLP): h += gate · Attn(modulate(LN(h))), h += gate · MLP(modulate(LN(h)));
// final layer: modulate(LN(h)) → Linear → unpatchify → out[B, Cout, H, W] (Cout = 2 Cin with
// learned σ: ε then the variance interpolation v).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "framework/nn/linear.h"
#include "framework/nn/parameters.h"
#include "framework/nn/score_network.h"
#include "framework/nn/time_embedding.h"

namespace carnot {

struct DitConfig {
  std::int64_t input_size = 32, patch = 2, in_channels = 4;
  std::int64_t hidden = 1152, depth = 28, heads = 16;
  std::int64_t mlp_ratio = 4;
  std::int64_t num_classes = 1000;  // 0: unconditional (no y_embedder)
  double class_dropout = 0.1;       // > 0 adds the null class for classifier-free guidance
  bool learn_sigma = true;
  std::int64_t frequency_dim = 256;
  // train.recompute: each block keeps only its output; backward runs the block's forward again
  // (into one set of buffers all blocks share) just before its backward. Same gradients, bit for
  // bit; activation memory of one block plus the blocks' outputs.
  bool recompute = false;

  // DiT's named sizes: S (384 wide, 12 deep, 6 heads), B (768, 12, 12), L (1024, 24, 16),
  // XL (1152, 28, 16). Throws on another name.
  static DitConfig preset(const std::string& size, std::int64_t patch);
  std::int64_t out_channels() const { return learn_sigma ? 2 * in_channels : in_channels; }
  std::int64_t grid() const { return input_size / patch; }
  std::int64_t tokens() const { return grid() * grid(); }
  std::int64_t table_rows() const { return num_classes + (class_dropout > 0 ? 1 : 0); }
  // Checks sizes (patch divides input_size, heads divide hidden...); throws naming the key.
  void validate() const;
};

// Parameters as the reference counts them (sum of numel over model.parameters(), pos_embed
// included): DiT-XL/2 on 32×32×4 latents with 1000 classes and learned σ has 675,129,632.
std::int64_t dit_parameter_count(const DitConfig& c);
// Forward FLOPs per sample (2 per multiply-add: GEMMs, attention and the patch embedding).
double dit_forward_flops(const DitConfig& c);
// Activation elements saved for backward per sample (fewer with recompute).
std::int64_t dit_activation_elements(const DitConfig& c);

// MAE's fixed 2-D sin-cos position embedding [grid², dim], as DiT's get_2d_sincos_pos_embed.
std::vector<double> sincos_pos_embed_2d(std::int64_t dim, std::int64_t grid);

class Dit final : public ScoreNetwork {
 public:
  Dit(const DitConfig& config, DType dtype, Ops& ops, std::int64_t max_batch, std::uint64_t seed);
  ~Dit();

  // out[B, Cout, H, W] from x[B, Cin, H, W], times t[B] and labels y[B] (the null class is
  // num_classes); x and y must stay unchanged until backward.
  void forward(const Tensor& x, const float* t, const std::int64_t* y, const Tensor& out) override;
  // Accumulates every parameter's gradient from dout (the input gets none: dx must be empty).
  void backward(const Tensor& dout, const Tensor& dx) override;
  void backward(const Tensor& dout) { backward(dout, Tensor()); }
  std::int64_t outputs() const override { return config_.out_channels() * config_.input_size * config_.input_size; }
  // Marks after final_layer, each block (from the last) and the embedders (see ScoreNetwork).
  void set_grads_ready(GradsReady hook) override { grads_ready_ = std::move(hook); }

  const DitConfig& config() const { return config_; }
  ParameterStore& params() override { return store_; }
  const ParameterStore& params() const override { return store_; }
  // Per block and head, W_Q-W_K and W_V-W_O (slices of the fused qkv and of proj).
  Symmetries symmetries() const override;
  // blocks.K: the tokens after block K, [n, tokens · hidden].
  std::vector<std::string> feature_layers() const override { return block_names_; }
  Tensor features(const std::string& layer) const override;
  // pos_embed [1, N, C], fixed (not trained), exported with the weights (on the model's device).
  Tensor pos_embed() const { return pos_embed_.tensor(); }

 private:
  struct Saved;
  struct Block;
  struct Final;
  void block_forward(Block& k, const Tensor& h_in, const Tensor& cond_act, std::int64_t n);
  void ready(std::int64_t mark, const char* module) const {
    if (grads_ready_) grads_ready_(mark, module);
  }
  DitConfig config_;
  DType dtype_;
  Ops& ops_;
  std::int64_t max_batch_;
  ParameterStore store_;
  ParamHandle patch_weight_, patch_bias_, table_;
  std::unique_ptr<TimeEmbedding> t_embedder_;
  std::vector<std::unique_ptr<Saved>> saved_;  // one per block, or one for all (recompute)
  std::vector<std::unique_ptr<Block>> blocks_;
  std::vector<std::string> block_names_;  // "blocks.K", for the grads-ready hook
  std::unique_ptr<Final> final_;
  Buffer pos_embed_;
  // Saved from forward: the input, patch-embedding output, tokens, conditioning and scratch.
  Tensor x_;
  const std::int64_t* y_ = nullptr;
  std::int64_t n_ = 0;
  Buffer patches_, h0_, temb_, cond_, cond_act_, dcond_act_, dcond_, scratch_c_, conv_work_, attn_work_;
  Buffer dh_, dtmp_, dtokens_out_, dpatches_, scratch_a_, scratch_b_;
  GradsReady grads_ready_;
};

}  // namespace carnot
