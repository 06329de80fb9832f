// Nearest-neighbour up-sampling by 2 on NCHW images (the DDPM U-Net's Upsample before its 3×3
// convolution); backward sums each 2×2 block.
#include "kernels/cpu/kernels.h"

namespace carnot::cpu {

template <class T> void upsample2x_forward(std::int64_t planes, std::int64_t h, std::int64_t w, const T* x, T* y) {
  for (std::int64_t c = 0; c < planes; ++c)
    for (std::int64_t i = 0; i < 2 * h; ++i)
      for (std::int64_t j = 0; j < 2 * w; ++j) y[(c * 2 * h + i) * 2 * w + j] = x[(c * h + i / 2) * w + j / 2];
}

template <class T>
void upsample2x_backward(std::int64_t planes, std::int64_t h, std::int64_t w, const T* dy, T* dx) {
  for (std::int64_t c = 0; c < planes; ++c)
    for (std::int64_t i = 0; i < h; ++i)
      for (std::int64_t j = 0; j < w; ++j) {
        const T* d = dy + (c * 2 * h + 2 * i) * 2 * w + 2 * j;
        dx[(c * h + i) * w + j] = d[0] + d[1] + d[2 * w] + d[2 * w + 1];
      }
}

template void upsample2x_forward<float>(std::int64_t, std::int64_t, std::int64_t, const float*, float*);
template void upsample2x_forward<double>(std::int64_t, std::int64_t, std::int64_t, const double*, double*);
template void upsample2x_backward<float>(std::int64_t, std::int64_t, std::int64_t, const float*, float*);
template void upsample2x_backward<double>(std::int64_t, std::int64_t, std::int64_t, const double*, double*);

}  // namespace carnot::cpu
