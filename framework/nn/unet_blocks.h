// The DDPM U-Net's two blocks, named as diffusers' ResnetBlock2D and Attention (with its group
// norm and residual) so their state dicts match, on NCHW maps of one side:
//   ResBlock: h = conv1(SiLU(GN1(x))) + time_emb_proj(SiLU(emb)); h = conv2(dropout(SiLU(GN2(h))));
//             out = shortcut(x) + h (shortcut: a 1×1 conv when the channel count changes).
//   AttnBlock: out = x + to_out(Attention(q, k, v of GN(x) as HW tokens)), heads of head_dim.
// Each keeps what its backward needs; gradients pass through the network's shared scratch.
#pragma once
#include <memory>
#include <string>

#include "framework/nn/conv2d.h"
#include "framework/nn/group_norm.h"
#include "framework/nn/linear.h"

namespace carnot {

// What the blocks share: ops, sizes and scratch (each scratch buffer holds the largest activation
// of a batch, or 3× that of an attention level), SiLU(emb) and its gradient, and dropout's key.
struct UNetShared {
  Ops& ops;
  DType dtype;
  std::int64_t max_batch = 0;
  Buffer conv_work, attn_work, scratch_a, scratch_b, scratch_c;
  Tensor emb_act, demb_act;             // [n, T]: SiLU(emb), and its gradient (blocks add to it)
  const DropoutKey* dropout = nullptr;  // null: evaluation (no dropout)
  Tensor a(std::int64_t n) const { return scratch_a.tensor().rows(0, n); }
};

class ResBlock {
 public:
  ResBlock(UNetShared& sh, ParameterStore& store, const std::string& name, std::int64_t cin, std::int64_t cout,
           std::int64_t side, std::int64_t temb, std::int64_t groups, double eps, double dropout,
           std::uint32_t dropout_block);
  ~ResBlock();
  // out [n, cout, side, side] from x [n, cin, side, side], which must stay unchanged until backward.
  Tensor forward(const Tensor& x);
  void backward(const Tensor& dout, const Tensor& dx);
  ParamHandle first_param() const;
  // Philox blocks its dropout draws per sample (the next block starts after them).
  std::uint32_t dropout_blocks() const;
  // The convolution scratch its convolutions need (UNetShared::conv_work must hold it).
  std::int64_t conv_workspace() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_;
};

class AttnBlock {
 public:
  AttnBlock(UNetShared& sh, ParameterStore& store, const std::string& name, std::int64_t channels,
            std::int64_t side, std::int64_t head_dim, std::int64_t groups, double eps);
  ~AttnBlock();
  Tensor forward(const Tensor& x);
  void backward(const Tensor& dout, const Tensor& dx);
  ParamHandle first_param() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_;
};

}  // namespace carnot
