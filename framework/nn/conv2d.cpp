#include "framework/nn/conv2d.h"

namespace carnot {

Conv2d::Conv2d(Ops& ops, ParameterStore& store, const std::string& name, std::int64_t cin, std::int64_t cout,
               std::int64_t k, std::int64_t stride, std::int64_t pad, ParamInit weight, ParamInit bias,
               std::int64_t pad_end_extra)
    : ops_(ops), store_(store), cin_(cin), cout_(cout), k_(k), stride_(stride), pad_(pad),
      pad_end_extra_(pad_end_extra) {
  weight_ = store.add(name + ".weight", Shape{cout, cin, k, k}, weight);
  bias_ = store.add(name + ".bias", Shape{cout}, bias);
}

void Conv2d::forward(const Tensor& x, const Tensor& y, void* workspace) const {
  const Conv2dShape g = shape(x.dim(0), x.dim(2));
  CARNOT_CHECK(x.shape().rank() == 4 && x.dim(1) == cin_ && x.dim(2) == x.dim(3) && y.dim(0) == x.dim(0) &&
                   y.dim(1) == cout_ && y.dim(2) == g.out_h(),
               "Conv2d(", cin_, "→", cout_, ", k ", k_, ") got x ", x.shape().str(), " and y ", y.shape().str());
  ops_.conv2d_forward(store_.dtype(), g, x.raw(), store_.value(weight_).raw(), store_.value(bias_).raw(), workspace,
                      y.raw());
}

void Conv2d::backward(const Tensor& x, const Tensor& dy, const Tensor& dx, void* workspace) const {
  if (x.dim(0) == 0) return;
  ops_.conv2d_backward(store_.dtype(), shape(x.dim(0), x.dim(2)), x.raw(), store_.value(weight_).raw(), dy.raw(),
                       workspace, dx.raw(), store_.grad(weight_).raw(), store_.grad(bias_).raw());
}

}  // namespace carnot
