// Sinusoidal timestep embedding (DiT's TimestepEmbedder.timestep_embedding; diffusers' Timesteps).
#include <cmath>

#include "kernels/cpu/kernels.h"

namespace carnot::cpu {

template <class T>
void timestep_embedding(std::int64_t rows, std::int64_t dim, const float* t, const SinusoidStyle& style, T* out) {
  const std::int64_t half = dim / 2;
  const std::int64_t cos_at = style.sin_first ? half : 0, sin_at = style.sin_first ? 0 : half;
  for (std::int64_t r = 0; r < rows; ++r) {
    T* o = out + r * dim;
    for (std::int64_t k = 0; k < half; ++k) {
      const double freq = std::exp(-std::log(style.max_period) * double(k) / (double(half) - style.freq_shift));
      const double arg = double(t[r]) * freq;
      o[cos_at + k] = T(std::cos(arg));
      o[sin_at + k] = T(std::sin(arg));
    }
    if (dim % 2) o[dim - 1] = T(0);
  }
}

template void timestep_embedding<float>(std::int64_t, std::int64_t, const float*, const SinusoidStyle&, float*);
template void timestep_embedding<double>(std::int64_t, std::int64_t, const float*, const SinusoidStyle&, double*);

}  // namespace carnot::cpu
