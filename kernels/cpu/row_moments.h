// A row's mean and 1/√(variance + eps) in two float64 passes (LayerNorm's statistics, shared by
// layer_norm_forward and the fused adaLN so that both give the same bits).
#pragma once
#include <cmath>
#include <cstdint>

namespace carnot::cpu {

template <class T> void row_moments(const T* x, std::int64_t n, double eps, double* mu, double* inv) {
  double s = 0, ss = 0;
  for (std::int64_t c = 0; c < n; ++c) s += double(x[c]);
  *mu = s / double(n);
  for (std::int64_t c = 0; c < n; ++c) ss += (double(x[c]) - *mu) * (double(x[c]) - *mu);
  *inv = 1.0 / std::sqrt(ss / double(n) + eps);
}

}  // namespace carnot::cpu
