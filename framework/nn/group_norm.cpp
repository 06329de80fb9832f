#include "framework/nn/group_norm.h"

#include <algorithm>

namespace carnot {

GroupNorm::GroupNorm(Ops& ops, ParameterStore& store, const std::string& name, std::int64_t channels,
                     std::int64_t groups, double eps, std::int64_t max_batch)
    : ops_(ops), store_(store), channels_(channels), groups_(groups), eps_(eps) {
  CARNOT_CHECK(groups > 0 && channels % groups == 0, name, ": ", groups, " groups do not divide ", channels,
               " channels");
  weight_ = store.add(name + ".weight", Shape{channels}, ParamInit::constant(1));
  bias_ = store.add(name + ".bias", Shape{channels}, ParamInit::zero());
  mean_ = Buffer(stats_dtype(store.dtype()), Shape{max_batch * groups}, store.device());
  rstd_ = Buffer(stats_dtype(store.dtype()), Shape{max_batch * groups}, store.device());
}

void GroupNorm::forward(const Tensor& x, const Tensor& y) {
  const std::int64_t n = x.dim(0), hw = x.numel() / std::max<std::int64_t>(1, n * channels_);
  CARNOT_CHECK(x.dim(1) == channels_ && n * groups_ <= mean_.numel(), "GroupNorm(", channels_, ") got ",
               x.shape().str());
  ops_.group_norm_forward(store_.dtype(), n, channels_, hw, groups_, eps_, x.raw(), store_.value(weight_).raw(),
                          store_.value(bias_).raw(), y.raw(), mean_.tensor().raw(), rstd_.tensor().raw());
}

void GroupNorm::backward(const Tensor& x, const Tensor& dy, const Tensor& dx) {
  const std::int64_t n = x.dim(0), hw = x.numel() / std::max<std::int64_t>(1, n * channels_);
  ops_.group_norm_backward(store_.dtype(), n, channels_, hw, groups_, x.raw(), store_.value(weight_).raw(),
                           mean_.tensor().raw(), rstd_.tensor().raw(), dy.raw(), dx.raw(),
                           store_.grad(weight_).raw(), store_.grad(bias_).raw());
}

}  // namespace carnot
