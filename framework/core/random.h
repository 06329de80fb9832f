// Uniform and normal variates drawn from Philox, keyed as in philox.h.
#pragma once
#include <cmath>
#include <cstdint>

#include "framework/core/philox.h"

namespace carnot {

// Uniform in (0, 1) from 32 random bits: never 0, never 1, so logs are safe.
CARNOT_HOST_DEVICE double uniform_open01(std::uint32_t bits) {
  return (double(bits) + 0.5) * (1.0 / 4294967296.0);
}

// Integer in [0, n) by Lemire's multiply-shift (bias below n / 2^32).
CARNOT_HOST_DEVICE std::uint32_t uniform_below(std::uint32_t bits, std::uint32_t n) {
  return std::uint32_t((std::uint64_t(bits) * n) >> 32);
}

// Two independent standard normals from two words (Box-Muller).
CARNOT_HOST_DEVICE void box_muller(std::uint32_t a, std::uint32_t b, double* z0, double* z1) {
  const double r = std::sqrt(-2.0 * std::log(uniform_open01(a)));
  const double theta = 6.283185307179586 * uniform_open01(b);
  *z0 = r * std::cos(theta);
  *z1 = r * std::sin(theta);
}

// Fills out[0..n) with standard normals for one (seed, step, index, stream).
template <class T>
inline void philox_normals(std::uint64_t seed, std::uint32_t step, std::uint32_t index,
                           RngStream stream, std::int64_t n, T* out) {
  for (std::int64_t j = 0; j < n; j += 4) {
    const Philox4x32 r = philox_draw(seed, step, index, stream, std::uint32_t(j / 4));
    double z[4];
    box_muller(r.v[0], r.v[1], &z[0], &z[1]);
    box_muller(r.v[2], r.v[3], &z[2], &z[3]);
    for (int q = 0; q < 4 && j + q < n; ++q) out[j + q] = T(z[q]);
  }
}

}  // namespace carnot
