#include "framework/train/networks.h"

#include "framework/core/error.h"
#include "framework/diffusion/reverse_variance.h"

namespace carnot {

MlpConfig mlp_config(const JobSpec& spec) {
  const std::int64_t dim = spec.data.dim();
  const std::int64_t extra = variance_outputs(reverse_variance_of(spec.diffusion.variance), dim);
  const std::int64_t logits = spec.diffusion.betas == "learned" ? spec.diffusion.steps - 1 : 0;
  MlpConfig c{dim, spec.model.hidden, spec.model.depth, spec.model.time_embed, dim + extra, logits};
  c.activation = spec.model.activation == "relu" ? MlpConfig::Activation::kRelu : MlpConfig::Activation::kSilu;
  c.layer_norm = spec.model.layer_norm;
  return c;
}

DitConfig dit_config(const JobSpec& spec) {
  const ModelSpec& m = spec.model;
  DitConfig c = m.size == "custom" ? DitConfig{} : DitConfig::preset(m.size, m.patch);
  if (m.size == "custom") c.hidden = m.hidden, c.depth = m.depth, c.heads = m.heads;
  c.patch = m.patch;
  c.input_size = spec.data.side();
  c.in_channels = spec.data.channels;
  c.num_classes = spec.data.num_classes;
  c.class_dropout = m.class_dropout;
  c.learn_sigma = spec.diffusion.variance == "learned";
  c.recompute = spec.train.recompute;
  return c;
}

UNetConfig unet_config(const JobSpec& spec) {
  const ModelSpec& m = spec.model;
  UNetConfig c;
  c.sample_size = spec.data.side();
  c.in_channels = spec.data.channels;
  c.channels = m.channels;
  c.channel_mult = m.channel_mult;
  c.res_blocks = m.res_blocks;
  c.attention_resolutions = m.attention_resolutions;
  c.groups = m.groups;
  c.dropout = m.dropout;
  c.head_dim = m.head_dim;
  c.num_classes = spec.data.num_classes;
  c.class_dropout = m.class_dropout;
  c.learn_sigma = spec.diffusion.variance == "learned";
  return c;
}

std::unique_ptr<ScoreNetwork> make_score_network(const JobSpec& spec, Ops& ops, std::int64_t max_rows,
                                                 std::uint64_t seed, DType dtype) {
  const std::int64_t dim = spec.data.dim();
  if (spec.model.kind == "dit") {
    const DitConfig c = dit_config(spec);
    CARNOT_CHECK(c.input_size * c.input_size * c.in_channels == dim, "DiT input ", c.in_channels, "×", c.input_size,
                 "×", c.input_size, " but the dataset has ", dim, " values per sample");
    return std::make_unique<Dit>(c, dtype, ops, max_rows, seed);
  }
  if (spec.model.kind == "unet") {
    const UNetConfig c = unet_config(spec);
    CARNOT_CHECK(c.sample_size * c.sample_size * c.in_channels == dim, "U-Net input ", c.in_channels, "×",
                 c.sample_size, "×", c.sample_size, " but the dataset has ", dim, " values per sample");
    return std::make_unique<UNet>(c, dtype, ops, max_rows, seed);
  }
  CARNOT_CHECK(spec.model.kind == "mlp", "model.kind ", spec.model.kind, " has no network");
  const MlpConfig c = mlp_config(spec);
  CARNOT_CHECK(c.data_dim == dim, "data.dim() ", c.data_dim, " but the dataset has ", dim);
  return std::make_unique<MlpScoreNet>(c, dtype, ops, max_rows, seed);
}

}  // namespace carnot
