// Sinusoidal timestep embedding (DiT's TimestepEmbedder.timestep_embedding).
#include <cmath>

#include "kernels/cpu/kernels.h"

namespace carnot::cpu {

template <class T>
void timestep_embedding(std::int64_t rows, std::int64_t dim, const float* t, double max_period,
                        T* out) {
  const std::int64_t half = dim / 2;
  for (std::int64_t r = 0; r < rows; ++r) {
    T* o = out + r * dim;
    for (std::int64_t k = 0; k < half; ++k) {
      const double freq = std::exp(-std::log(max_period) * double(k) / double(half));
      const double arg = double(t[r]) * freq;
      o[k] = T(std::cos(arg));
      o[half + k] = T(std::sin(arg));
    }
    if (dim % 2) o[dim - 1] = T(0);
  }
}

template void timestep_embedding<float>(std::int64_t, std::int64_t, const float*, double, float*);
template void timestep_embedding<double>(std::int64_t, std::int64_t, const float*, double,
                                         double*);

}  // namespace carnot::cpu
