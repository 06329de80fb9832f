// The parameter groups that diagnostics measure, in one list: every parameter tensor (in the
// store's order), then each rescaling pair's u and w, then each scale-invariant group
// (nn/symmetries.h). One pass over a flat buffer, or over any range of it (a gradient bucket, a
// ZeRO shard), adds every group's sum of squares.
#pragma once
#include <cstdint>
#include <vector>

#include "framework/nn/parameters.h"
#include "framework/nn/symmetries.h"
#include "kernels/ops.h"

namespace carnot {

class DiagnosticGroups {
 public:
  DiagnosticGroups() = default;
  DiagnosticGroups(const ParameterStore& store, Symmetries symmetries);

  std::size_t size() const { return groups_.size(); }
  std::size_t tensors() const { return tensors_; }
  std::size_t pair_u(std::size_t k) const { return tensors_ + 2 * k; }
  std::size_t pair_w(std::size_t k) const { return tensors_ + 2 * k + 1; }
  std::size_t invariant(std::size_t k) const { return tensors_ + 2 * symmetries_.pairs.size() + k; }
  const Symmetries& symmetries() const { return symmetries_; }

  // out[g] += scale · Σ x[i − base]² over group g's elements i within [lo, hi), for every group g.
  void add_squares(Ops& ops, const float* x, std::int64_t base, std::int64_t lo, std::int64_t hi, double scale,
                   std::vector<double>& out) const;

 private:
  std::vector<ParamGroup> groups_;
  std::size_t tensors_ = 0;
  Symmetries symmetries_;
};

}  // namespace carnot
