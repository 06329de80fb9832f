// Linear layer y = x W^T + b with W stored [out, in] as PyTorch's nn.Linear.
#pragma once
#include <string>

#include "framework/nn/parameters.h"
#include "kernels/ops.h"

namespace carnot {

class Linear {
 public:
  // PyTorch's default initialisation: U(±1/√in) for weight and bias.
  Linear(Ops& ops, ParameterStore& store, const std::string& name, std::int64_t in,
         std::int64_t out);
  // Given initialisations (DiT: Xavier weights and zero biases; zero for adaLN-Zero).
  Linear(Ops& ops, ParameterStore& store, const std::string& name, std::int64_t in, std::int64_t out,
         ParamInit weight, ParamInit bias);

  std::int64_t in_features() const { return in_; }
  std::int64_t out_features() const { return out_; }
  // One past this layer's last gradient element in the store's flat buffer (after finalize).
  std::int64_t flat_end() const;

  // y[n, out] = x[n, in] W^T + b.
  void forward(const Tensor& x, const Tensor& y) const;
  // pre = x W^T + b and y = GELU(pre) (tanh form), in one fused op where the table has one.
  void forward_gelu(const Tensor& x, const Tensor& pre, const Tensor& y) const;
  // Accumulates dW += dy^T x and db += sum_rows dy (unless bias_done: backward_gelu of the layer
  // above added it); if dx is non-empty, overwrites dx = dy W.
  void backward(const Tensor& x, const Tensor& dy, const Tensor& dx, bool bias_done = false) const;
  // backward for a layer whose input x = GELU(pre) came from `below` (forward_gelu): dpre =
  // (dy W) ⊙ GELU'(pre), and below's bias gradient added from it, in one fused op where the table
  // has one; below.backward then runs with bias_done.
  void backward_gelu(const Tensor& x, const Tensor& dy, const Tensor& pre, const Tensor& dpre, const Linear& below) const;

 private:
  void run_forward(const Tensor& x, const Tensor& y, Epilogue epilogue, void* pre) const;

  Ops& ops_;
  ParameterStore& store_;
  std::int64_t in_, out_;
  ParamHandle weight_, bias_;
};

}  // namespace carnot
