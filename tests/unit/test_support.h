// Helpers for tests: fresh seeds that are logged, relative errors, host copies.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "framework/core/tensor.h"

namespace carnot::test {

// A fresh random seed, printed so that a failure can be replayed (CARNOT_TEST_SEED overrides).
std::uint64_t fresh_seed(const char* what);

// n standard normals (times scale) as T.
template <class T = double> std::vector<T> randn(std::mt19937_64& rng, std::size_t n, double scale = 1.0) {
  std::normal_distribution<double> normal;
  std::vector<T> v(n);
  for (T& x : v) x = T(scale * normal(rng));
  return v;
}

// ‖a − b‖ / ‖b‖.
template <class A, class B> double rel_error(const A& a, const B& b, std::size_t n) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = double(a[i]) - double(b[i]);
    num += d * d;
    den += double(b[i]) * double(b[i]);
  }
  return std::sqrt(num) / std::sqrt(den);
}

// A tensor's bytes copied to the host, wherever it lives (empty for a tensor without memory).
std::vector<char> host_bytes(const Tensor& t);
// A float32 tensor's values on the host, wherever it lives.
std::vector<float> host_floats(const Tensor& t);

}  // namespace carnot::test
