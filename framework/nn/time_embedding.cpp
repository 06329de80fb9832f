#include "framework/nn/time_embedding.h"

#include <cmath>

namespace carnot {

// PyTorch's default per layer: U(±1/√fan_in) for weight and bias.
TimeEmbedding::TimeEmbedding(Ops& ops, ParameterStore& store, const std::string& name,
                             std::int64_t frequency_dim, std::int64_t out_dim,
                             std::int64_t max_batch)
    : TimeEmbedding(ops, store, name, frequency_dim, out_dim, max_batch,
                    ParamInit::uniform(1.0 / std::sqrt(double(frequency_dim))),
                    ParamInit::uniform(1.0 / std::sqrt(double(frequency_dim))),
                    ParamInit::uniform(1.0 / std::sqrt(double(out_dim))),
                    ParamInit::uniform(1.0 / std::sqrt(double(out_dim))), TimeEmbeddingLayout{}) {}

TimeEmbedding::TimeEmbedding(Ops& ops, ParameterStore& store, const std::string& name, std::int64_t frequency_dim,
                             std::int64_t out_dim, std::int64_t max_batch, ParamInit weight, ParamInit bias,
                             const TimeEmbeddingLayout& layout)
    : TimeEmbedding(ops, store, name, frequency_dim, out_dim, max_batch, weight, bias, weight, bias, layout) {}

TimeEmbedding::TimeEmbedding(Ops& ops, ParameterStore& store, const std::string& name, std::int64_t frequency_dim,
                             std::int64_t out_dim, std::int64_t max_batch, ParamInit w1, ParamInit b1, ParamInit w2,
                             ParamInit b2, const TimeEmbeddingLayout& layout)
    : ops_(ops),
      dtype_(store.dtype()),
      frequency_dim_(frequency_dim),
      sinusoid_(layout.sinusoid),
      fc1_(ops, store, name + "." + layout.first, frequency_dim, out_dim, w1, b1),
      fc2_(ops, store, name + "." + layout.second, out_dim, out_dim, w2, b2),
      features_(dtype_, Shape{max_batch, frequency_dim}, store.device()),
      pre_act_(dtype_, Shape{max_batch, out_dim}, store.device()),
      act_(dtype_, Shape{max_batch, out_dim}, store.device()),
      scratch_(dtype_, Shape{max_batch, out_dim}, store.device()) {}

void TimeEmbedding::forward(const float* t, std::int64_t n, const Tensor& out) {
  n_ = n;
  const Tensor features = features_.tensor().rows(0, n), pre = pre_act_.tensor().rows(0, n),
               act = act_.tensor().rows(0, n);
  ops_.timestep_embedding(dtype_, n, frequency_dim_, t, sinusoid_, features.raw());
  fc1_.forward(features, pre);
  ops_.silu_forward(dtype_, pre.numel(), pre.raw(), act.raw());
  fc2_.forward(act, out);
}

void TimeEmbedding::backward(const Tensor& dout) {
  const Tensor features = features_.tensor().rows(0, n_), pre = pre_act_.tensor().rows(0, n_),
               act = act_.tensor().rows(0, n_), d = scratch_.tensor().rows(0, n_);
  fc2_.backward(act, dout, d);
  ops_.silu_backward(dtype_, d.numel(), pre.raw(), d.raw(), d.raw());
  fc1_.backward(features, d, Tensor());
}

}  // namespace carnot
