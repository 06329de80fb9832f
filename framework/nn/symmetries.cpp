#include "framework/nn/symmetries.h"

#include "framework/core/error.h"

namespace carnot {

void ParamGroup::add_all(const ParamInfo& p) { ranges.push_back({p.offset, p.offset + p.shape.numel()}); }

void ParamGroup::add_rows(const ParamInfo& p, std::int64_t lo, std::int64_t hi) {
  const std::int64_t rows = p.shape[0], row = p.shape.numel() / rows;
  CARNOT_CHECK(0 <= lo && lo <= hi && hi <= rows, p.name, ": rows [", lo, ", ", hi, ") outside ", rows);
  ranges.push_back({p.offset + lo * row, p.offset + hi * row});
}

void ParamGroup::add_columns(const ParamInfo& p, std::int64_t lo, std::int64_t hi) {
  CARNOT_CHECK(p.shape.rank() == 2, p.name, ": columns of a ", p.shape.str(), " tensor");
  const std::int64_t rows = p.shape[0], cols = p.shape[1];
  CARNOT_CHECK(0 <= lo && lo <= hi && hi <= cols, p.name, ": columns [", lo, ", ", hi, ") outside ", cols);
  for (std::int64_t r = 0; r < rows; ++r) ranges.push_back({p.offset + r * cols + lo, p.offset + r * cols + hi});
}

std::int64_t ParamGroup::numel() const {
  std::int64_t n = 0;
  for (const FlatRange& r : ranges) n += r.end - r.begin;
  return n;
}

const ParamInfo& param_named(const ParameterStore& store, const std::string& name) {
  for (const ParamInfo& p : store.params())
    if (p.name == name) return p;
  throw Error("no parameter named '" + name + "'");
}

void add_attention_pairs(Symmetries& out, const std::string& name, std::int64_t heads, std::int64_t head_dim,
                         HeadSlice q, HeadSlice k, HeadSlice v, const ParamInfo& out_weight) {
  auto slice = [&](ParamGroup& g, const HeadSlice& s, std::int64_t h) {
    const std::int64_t lo = s.row_offset + h * head_dim, hi = lo + head_dim;
    g.add_rows(*s.weight, lo, hi);
    if (s.bias) g.add_rows(*s.bias, lo, hi);
  };
  for (std::int64_t h = 0; h < heads; ++h) {
    RescalingPair qk{name + ".qk.head" + std::to_string(h), {}, {}};
    slice(qk.u, q, h);
    slice(qk.w, k, h);
    out.pairs.push_back(std::move(qk));
    RescalingPair vo{name + ".vo.head" + std::to_string(h), {}, {}};
    slice(vo.u, v, h);
    vo.w.add_columns(out_weight, h * head_dim, (h + 1) * head_dim);
    out.pairs.push_back(std::move(vo));
  }
}

}  // namespace carnot
