// Float64 sums over eight interleaved lanes, then the lanes in order: a fixed order (results stay
// deterministic) that compilers vectorise, where one running sum is a chain of dependent adds
// (four cycles an element).
#pragma once
#include <cstdint>

namespace carnot::cpu {

template <class Term> double lane_sum(std::int64_t n, Term term) {
  double acc[8] = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += term(i + l);
  for (; i < n; ++i) acc[i & 7] += term(i);
  double s = 0;
  for (double a : acc) s += a;
  return s;
}

}  // namespace carnot::cpu
