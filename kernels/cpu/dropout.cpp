// Inverted dropout with masks from Philox: element j of row r keeps its value (scaled by 1/(1−p))
// unless word j mod 4 of draw (seed, step, first_index + r, kDropout, block + j/4) is below p, so
// a sample's mask depends on its global index alone, not on the rank or micro-batch it lands in.
#include "framework/core/random.h"
#include "kernels/cpu/kernels.h"

namespace carnot::cpu {

template <class T>
void dropout_forward(std::int64_t rows, std::int64_t cols, double p, const DropoutKey& key, const T* x, T* y, T* mask) {
  const T keep_scale = T(1.0 / (1.0 - p));
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::uint32_t index = key.first_index + std::uint32_t(r);
    for (std::int64_t j = 0; j < cols; j += 4) {
      const Philox4x32 w = philox_draw(key.seed, key.step, index, RngStream::kDropout, key.block + std::uint32_t(j / 4));
      for (std::int64_t q = 0; q < 4 && j + q < cols; ++q) {
        const std::int64_t i = r * cols + j + q;
        mask[i] = uniform_open01(w.v[q]) < p ? T(0) : keep_scale;
        y[i] = x[i] * mask[i];
      }
    }
  }
}

template <class T> void dropout_backward(std::int64_t n, const T* mask, const T* dy, T* dx) {
  for (std::int64_t i = 0; i < n; ++i) dx[i] = dy[i] * mask[i];
}

template void dropout_forward<float>(std::int64_t, std::int64_t, double, const DropoutKey&, const float*, float*,
                                     float*);
template void dropout_forward<double>(std::int64_t, std::int64_t, double, const DropoutKey&, const double*, double*,
                                      double*);
template void dropout_backward<float>(std::int64_t, const float*, const float*, float*);
template void dropout_backward<double>(std::int64_t, const double*, const double*, double*);

}  // namespace carnot::cpu
