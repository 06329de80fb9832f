// exp for float that compilers vectorise (with -fno-math-errno -fno-trapping-math) (the libm call in a loop stays scalar), with ~1 ulp
// error: Cody-Waite range reduction x = n ln2 + r, Cephes' degree-6 polynomial for e^r, and 2^n
// built in the exponent bits. Plain arithmetic, so the same code serves a CUDA twin.
#pragma once
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

namespace carnot::cpu {

inline float exp_fast(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);  // e^x stays a normal float
  const float n = std::nearbyint(x * 1.44269504088896341f);
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;  // ln2 split in two parts
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * std::bit_cast<float>((static_cast<std::int32_t>(n) + 127) << 23);
}

// The logistic sigmoid 1 / (1 + e^-x); float uses exp_fast, double the libm exp (the oracle).
inline float sigmoid(float x) { return 1.0f / (1.0f + exp_fast(-x)); }
inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// tanh u = 1 − 2 / (1 + e^{2u}); float through exp_fast (GELU's tanh was half of a small DiT's
// step in libm), double through libm (the oracle). Absolute error ~1e-7 in float.
inline float tanh_fast(float u) { return 1.0f - 2.0f / (1.0f + exp_fast(2.0f * u)); }
inline double tanh_fast(double u) { return std::tanh(u); }
// e^x: exp_fast for float, libm for double.
inline float exp_any(float x) { return exp_fast(x); }
inline double exp_any(double x) { return std::exp(x); }

}  // namespace carnot::cpu
