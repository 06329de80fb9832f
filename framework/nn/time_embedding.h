// Time embedding: sinusoidal features of t, then Linear → SiLU → Linear (DiT's TimestepEmbedder).
#pragma once
#include <string>

#include "framework/nn/linear.h"

namespace carnot {

// How a reference names its two layers and makes its features: DiT's t_embedder.mlp.0 / mlp.2 on
// [cos, sin]; diffusers' time_embedding.linear_1 / linear_2 on [sin, cos] with frequency shift 1
// (DDPM's get_timestep_embedding).
struct TimeEmbeddingLayout {
  std::string first = "mlp.0", second = "mlp.2";
  SinusoidStyle sinusoid;
  static TimeEmbeddingLayout diffusers() { return {"linear_1", "linear_2", SinusoidStyle{10000, 1, true}}; }
};

class TimeEmbedding {
 public:
  TimeEmbedding(Ops& ops, ParameterStore& store, const std::string& name,
                std::int64_t frequency_dim, std::int64_t out_dim, std::int64_t max_batch);
  // With given initialisations of both layers (DiT: weights N(0, 0.02²), biases zero).
  TimeEmbedding(Ops& ops, ParameterStore& store, const std::string& name, std::int64_t frequency_dim,
                std::int64_t out_dim, std::int64_t max_batch, ParamInit weight, ParamInit bias,
                const TimeEmbeddingLayout& layout = {});

  // out[n, out_dim] from times t[n] (in the model's time units).
  void forward(const float* t, std::int64_t n, const Tensor& out);
  // Accumulates parameter gradients from dout[n, out_dim]; t itself gets no gradient.
  void backward(const Tensor& dout);
  std::int64_t activation_elements() const {
    return features_.numel() + pre_act_.numel() + act_.numel() + scratch_.numel();
  }

 private:
  TimeEmbedding(Ops& ops, ParameterStore& store, const std::string& name, std::int64_t frequency_dim,
                std::int64_t out_dim, std::int64_t max_batch, ParamInit w1, ParamInit b1, ParamInit w2, ParamInit b2,
                const TimeEmbeddingLayout& layout);
  Ops& ops_;
  DType dtype_;
  std::int64_t frequency_dim_, n_ = 0;
  SinusoidStyle sinusoid_;
  Linear fc1_, fc2_;
  Buffer features_, pre_act_, act_, scratch_;  // saved for backward
};

}  // namespace carnot
