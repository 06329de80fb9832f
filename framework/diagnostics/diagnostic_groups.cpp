#include "framework/diagnostics/diagnostic_groups.h"

#include <algorithm>

#include "framework/core/error.h"

namespace carnot {

DiagnosticGroups::DiagnosticGroups(const ParameterStore& store, Symmetries symmetries)
    : symmetries_(std::move(symmetries)) {
  for (const ParamInfo& p : store.params()) {
    ParamGroup g;
    g.add_all(p);
    groups_.push_back(std::move(g));
  }
  tensors_ = groups_.size();
  for (const RescalingPair& p : symmetries_.pairs) {
    groups_.push_back(p.u);
    groups_.push_back(p.w);
  }
  for (const ScaleInvariantGroup& g : symmetries_.scale_invariant) groups_.push_back(g.group);
}

void DiagnosticGroups::add_squares(Ops& ops, const float* x, std::int64_t base, std::int64_t lo, std::int64_t hi,
                                   double scale, std::vector<double>& out) const {
  CARNOT_CHECK(out.size() == groups_.size(), "diagnostics: ", out.size(), " sums for ", groups_.size(), " groups");
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    double sum = 0;
    for (const FlatRange& r : groups_[g].ranges) {
      const std::int64_t a = std::max(r.begin, lo), b = std::min(r.end, hi);
      if (a < b) sum += ops.sum_squares(DType::F32, b - a, x + (a - base));
    }
    out[g] += scale * sum;
  }
}

}  // namespace carnot
