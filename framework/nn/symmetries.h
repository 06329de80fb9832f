// The continuous symmetries of a network's parameters that training diagnostics watch
// ("Neural Thermodynamics I", Ziyin et al. 2025):
//  - a rescaling pair (u, w): the function is unchanged by u → c·u, w → w/c for any c > 0. Consecutive
//    linear layers around a ReLU (u: the first layer's rows and bias, w: the second's columns; GELU
//    and SiLU are not positively homogeneous and have none), and in attention W_Q with W_K and W_V
//    with W_O, per head. Gradient flow conserves the charge ‖u‖² − ‖w‖²; SGD's noise and finite steps
//    drive it, and the gradients towards balance ‖g_u‖² = ‖g_w‖².
//  - a scale-invariant group θ: the function is unchanged by θ → c·θ (weights and bias feeding a
//    normalisation). Under weight decay γ, SGD brings η‖g‖² to 2γ‖θ‖².
// Groups are sets of flat ranges of the parameter buffer, so the same sums serve weights,
// gradients, and a ZeRO rank's shard of them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "framework/nn/parameters.h"

namespace carnot {

struct FlatRange {
  std::int64_t begin = 0, end = 0;
};

struct ParamGroup {
  std::vector<FlatRange> ranges;
  void add_all(const ParamInfo& p);
  // Slices [lo, hi) of dimension 0 (rows of a matrix, output channels of a convolution, elements of
  // a bias): each slice is contiguous.
  void add_rows(const ParamInfo& p, std::int64_t lo, std::int64_t hi);
  // Columns [lo, hi) of every row of a 2-D weight: one range per row.
  void add_columns(const ParamInfo& p, std::int64_t lo, std::int64_t hi);
  std::int64_t numel() const;
};

struct RescalingPair {
  std::string name;  // e.g. blocks.0.fc1-fc2, blocks.3.attn.qk.head2
  ParamGroup u, w;   // u → c·u, w → w/c
};

struct ScaleInvariantGroup {
  std::string name;
  ParamGroup group;
};

struct Symmetries {
  std::vector<RescalingPair> pairs;
  std::vector<ScaleInvariantGroup> scale_invariant;
};

// The parameter of that name in a finalized store (throws naming it if there is none).
const ParamInfo& param_named(const ParameterStore& store, const std::string& name);

// Multi-head attention whose heads are slices: head h of W_Q, W_K, W_V is rows [h·d, (h+1)·d) of
// q_rows (and of the biases), and of W_O columns [h·d, (h+1)·d). Names "<name>.qk.head<h>" and
// "<name>.vo.head<h>". q, k, v: {weight, bias, row offset within the tensor}.
struct HeadSlice {
  const ParamInfo* weight = nullptr;
  const ParamInfo* bias = nullptr;
  std::int64_t row_offset = 0;
};
void add_attention_pairs(Symmetries& out, const std::string& name, std::int64_t heads, std::int64_t head_dim,
                         HeadSlice q, HeadSlice k, HeadSlice v, const ParamInfo& out_weight);

}  // namespace carnot
