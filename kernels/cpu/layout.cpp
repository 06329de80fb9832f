// Moves without arithmetic: embedding rows, batched transposes (NCHW planes ↔ tokens) and DiT's
// unpatchify, each with the inverse its backward needs.
#include "kernels/cpu/kernels.h"

namespace carnot::cpu {

template <class T>
void embedding_forward(std::int64_t rows, std::int64_t dim, const T* table, const std::int64_t* ids, T* out) {
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < dim; ++c) out[r * dim + c] = table[ids[r] * dim + c];
}

// Rows are added in order, so the result does not depend on how the batch was split.
template <class T>
void embedding_backward(std::int64_t rows, std::int64_t dim, const std::int64_t* ids, const T* dout, T* dtable) {
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < dim; ++c) dtable[ids[r] * dim + c] += dout[r * dim + c];
}

template <class T>
void transpose_batched(std::int64_t batch, std::int64_t rows, std::int64_t cols, const T* x, T* y) {
  for (std::int64_t b = 0; b < batch; ++b) {
    const T* xb = x + b * rows * cols;
    T* yb = y + b * rows * cols;
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < cols; ++c) yb[c * rows + r] = xb[r * cols + c];
  }
}

// tokens[b, i·w + j, (pi·p + pj)·C + c] ↔ image[b, c, i·p + pi, j·p + pj], as DiT's
// einsum("nhwpqc->nchpwq").
template <class T>
void unpatchify(std::int64_t batch, std::int64_t h, std::int64_t w, std::int64_t p, std::int64_t channels,
                bool to_image, const T* in, T* out) {
  const std::int64_t H = h * p, W = w * p;
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t i = 0; i < h; ++i)
      for (std::int64_t j = 0; j < w; ++j)
        for (std::int64_t pi = 0; pi < p; ++pi)
          for (std::int64_t pj = 0; pj < p; ++pj)
            for (std::int64_t c = 0; c < channels; ++c) {
              const std::int64_t t = ((b * h * w + i * w + j) * p * p + pi * p + pj) * channels + c;
              const std::int64_t m = ((b * channels + c) * H + i * p + pi) * W + j * p + pj;
              if (to_image)
                out[m] = in[t];
              else
                out[t] = in[m];
            }
}

#define CARNOT_LAYOUT(T)                                                                                       \
  template void embedding_forward<T>(std::int64_t, std::int64_t, const T*, const std::int64_t*, T*);          \
  template void embedding_backward<T>(std::int64_t, std::int64_t, const std::int64_t*, const T*, T*);         \
  template void transpose_batched<T>(std::int64_t, std::int64_t, std::int64_t, const T*, T*);                 \
  template void unpatchify<T>(std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, bool,     \
                              const T*, T*);
CARNOT_LAYOUT(float)
CARNOT_LAYOUT(double)

}  // namespace carnot::cpu
