#include "framework/nn/linear.h"

#include <algorithm>
#include <cmath>

namespace carnot {

Linear::Linear(Ops& ops, ParameterStore& store, const std::string& name, std::int64_t in,
               std::int64_t out)
    : Linear(ops, store, name, in, out, ParamInit::uniform(1.0 / std::sqrt(double(in))),
             ParamInit::uniform(1.0 / std::sqrt(double(in)))) {}

Linear::Linear(Ops& ops, ParameterStore& store, const std::string& name, std::int64_t in, std::int64_t out,
               ParamInit weight, ParamInit bias)
    : ops_(ops), store_(store), in_(in), out_(out) {
  weight_ = store.add(name + ".weight", Shape{out, in}, weight);
  bias_ = store.add(name + ".bias", Shape{out}, bias);
}

std::int64_t Linear::flat_end() const {
  return std::max(store_.flat_end(weight_), store_.flat_end(bias_));
}

void Linear::forward(const Tensor& x, const Tensor& y) const { run_forward(x, y, Epilogue::kBias, nullptr); }

void Linear::forward_gelu(const Tensor& x, const Tensor& pre, const Tensor& y) const {
  CARNOT_CHECK(pre.shape() == y.shape(), "Linear(", in_, "→", out_, ") + GELU: pre ", pre.shape().str(), " vs y ",
               y.shape().str());
  run_forward(x, y, Epilogue::kBiasGelu, pre.raw());
}

void Linear::run_forward(const Tensor& x, const Tensor& y, Epilogue epilogue, void* pre) const {
  const std::int64_t n = x.dim(0);
  CARNOT_CHECK(x.dim(1) == in_ && y.dim(0) == n && y.dim(1) == out_, "Linear(", in_, "→", out_,
               ") got x ", x.shape().str(), " and y ", y.shape().str());
  ops_.linear_forward(store_.dtype(), n, in_, out_, x.raw(), store_.value(weight_).raw(), store_.value(bias_).raw(),
                      epilogue, pre, y.raw());
}

void Linear::backward(const Tensor& x, const Tensor& dy, const Tensor& dx, bool bias_done) const {
  const std::int64_t n = x.dim(0);
  const DType dt = store_.dtype();
  if (n == 0) return;
  // dW[out, in] += dy[n, out]^T x[n, in]
  ops_.gemm(dt, true, false, out_, in_, n, 1.0, dy.raw(), out_, x.raw(), in_, 1.0,
            store_.grad(weight_).raw(), in_);
  if (!bias_done) ops_.bias_grad(dt, n, out_, dy.raw(), store_.grad(bias_).raw());
  if (dx.raw() != nullptr)  // dx[n, in] = dy[n, out] W[out, in]
    ops_.gemm(dt, false, false, n, in_, out_, 1.0, dy.raw(), out_, store_.value(weight_).raw(),
              in_, 0.0, dx.raw(), in_);
}

void Linear::backward_gelu(const Tensor& x, const Tensor& dy, const Tensor& pre, const Tensor& dpre,
                           const Linear& below) const {
  const std::int64_t n = x.dim(0);
  CARNOT_CHECK(below.out_ == in_ && pre.shape() == x.shape() && dpre.shape() == x.shape(), "Linear(", in_, "→", out_,
               ") through GELU: x ", x.shape().str(), ", pre ", pre.shape().str(), ", dpre ", dpre.shape().str());
  const DType dt = store_.dtype();
  if (n == 0) return;
  ops_.gemm(dt, true, false, out_, in_, n, 1.0, dy.raw(), out_, x.raw(), in_, 1.0, store_.grad(weight_).raw(), in_);
  ops_.bias_grad(dt, n, out_, dy.raw(), store_.grad(bias_).raw());
  ops_.linear_backward_input(dt, n, in_, out_, dy.raw(), store_.value(weight_).raw(), pre.raw(), dpre.raw(),
                             below.store_.grad(below.bias_).raw());
}

}  // namespace carnot
