// ScoreNetwork: what the trainer needs of a network, whatever its kind (the MLP for points, DiT
// for images). Inputs and outputs are flat rows: x[n, data_dim] (an image's C×H×W in order) and
// out[n, outputs()] (ε̂, then any learned variance's outputs, each in the same order).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/nn/parameters.h"
#include "framework/nn/symmetries.h"
#include "kernels/ops.h"

namespace carnot {

// Throws unless y holds n labels in [0, rows) (a class-conditional network's table rows, the null
// class included); labels on the GPU are checked through a host copy.
void check_class_labels(const std::int64_t* y, std::int64_t n, std::int64_t rows, Device device, const char* network);

class ScoreNetwork {
 public:
  virtual ~ScoreNetwork() = default;
  // out from x, times t[n] and class labels y[n] (null for an unconditional network). x and y must
  // stay unchanged until backward.
  virtual void forward(const Tensor& x, const float* t, const std::int64_t* y, const Tensor& out) = 0;
  // Accumulates every parameter's gradient from dout; with dx given also the input's gradient.
  virtual void backward(const Tensor& dout, const Tensor& dx) = 0;
  virtual ParameterStore& params() = 0;
  virtual const ParameterStore& params() const = 0;
  virtual std::int64_t outputs() const = 0;
  // Told during backward how far the final gradients reach (see MlpScoreNet); a network that does
  // not report leaves every bucket to the step's end.
  using GradsReady = std::function<void(std::int64_t mark, const char* module)>;
  virtual void set_grads_ready(GradsReady hook) = 0;
  // Training mode: dropout masks from this key (its first_index the first row's global sample
  // index) until the next call; null (the default) evaluates without dropout. Networks without
  // dropout ignore it.
  virtual void set_dropout(const DropoutKey* key) { (void)key; }
  // The rescaling pairs and scale-invariant groups of its parameters that diagnostics measure
  // (nn/symmetries.h); none where the network declares none.
  virtual Symmetries symmetries() const { return {}; }
  // Hidden features (carnot align): the layers whose outputs the network keeps after forward, in
  // depth order, and one's output for the last forward's rows as [n, features] (a sample's tokens
  // side by side). Throws UsageError naming the layers for an unknown one.
  virtual std::vector<std::string> feature_layers() const { return {}; }
  virtual Tensor features(const std::string& layer) const;
  // The layer `carnot align` takes when none is named: the middle of feature_layers().
  virtual std::string default_feature_layer() const;
  // A learned schedule's logits and their gradients (empty where the network has none).
  virtual Tensor beta_logits() const { return Tensor(); }
  virtual Tensor beta_logit_grads() const { return Tensor(); }
};

}  // namespace carnot
