// Elementwise kernels: bias, SiLU, ReLU, GELU, sums and scaling.
#include <cmath>

#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/kernels.h"

namespace carnot::cpu {

template <class T> void add_bias(std::int64_t rows, std::int64_t cols, const T* bias, T* y) {
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) y[r * cols + c] += bias[c];
}

// Rows are summed in order, so the result does not depend on how the batch was split.
template <class T> void bias_grad(std::int64_t rows, std::int64_t cols, const T* dy, T* dbias) {
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) dbias[c] += dy[r * cols + c];
}

template <class T> void silu_forward(std::int64_t n, const T* x, T* y) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] * sigmoid(x[i]);
}

template <class T> void relu_forward(std::int64_t n, const T* x, T* y) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
}

// The derivative at 0 is taken as 0, as PyTorch does.
template <class T> void relu_backward(std::int64_t n, const T* x, const T* dy, T* dx) {
  for (std::int64_t i = 0; i < n; ++i) dx[i] = x[i] > T(0) ? dy[i] : T(0);
}

// GELU, tanh form (as DiT's approximate="tanh"): y = x/2 (1 + tanh(u)), u = √(2/π)(x + 0.044715 x³).
template <class T> void gelu_forward(std::int64_t n, const T* x, T* y) {
  const T k = T(0.7978845608028654), a = T(0.044715);
  for (std::int64_t i = 0; i < n; ++i) y[i] = T(0.5) * x[i] * (T(1) + tanh_fast(k * (x[i] + a * x[i] * x[i] * x[i])));
}

// dy/dx = (1 + tanh u)/2 + x/2 (1 − tanh² u) √(2/π)(1 + 3·0.044715 x²).
template <class T> void gelu_backward(std::int64_t n, const T* x, const T* dy, T* dx) {
  const T k = T(0.7978845608028654), a = T(0.044715);
  for (std::int64_t i = 0; i < n; ++i) {
    const T th = tanh_fast(k * (x[i] + a * x[i] * x[i] * x[i]));
    dx[i] = dy[i] * (T(0.5) * (T(1) + th) + T(0.5) * x[i] * (T(1) - th * th) * k * (T(1) + T(3) * a * x[i] * x[i]));
  }
}

// d/dx [x s(x)] = s(x) (1 + x (1 - s(x))).
template <class T> void silu_backward(std::int64_t n, const T* x, const T* dy, T* dx) {
  for (std::int64_t i = 0; i < n; ++i) {
    const T s = sigmoid(x[i]);
    dx[i] = dy[i] * s * (T(1) + x[i] * (T(1) - s));
  }
}

template <class T> void add(std::int64_t n, const T* a, const T* b, T* y) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

template <class T> void accumulate(std::int64_t n, const T* x, T* y) {
  for (std::int64_t i = 0; i < n; ++i) y[i] += x[i];
}

template <class T> void scale(std::int64_t n, T s, T* y) {
  for (std::int64_t i = 0; i < n; ++i) y[i] *= s;
}

#define CARNOT_INSTANTIATE(T)                                                       \
  template void add_bias<T>(std::int64_t, std::int64_t, const T*, T*);              \
  template void bias_grad<T>(std::int64_t, std::int64_t, const T*, T*);             \
  template void silu_forward<T>(std::int64_t, const T*, T*);                        \
  template void silu_backward<T>(std::int64_t, const T*, const T*, T*);             \
  template void relu_forward<T>(std::int64_t, const T*, T*);                        \
  template void relu_backward<T>(std::int64_t, const T*, const T*, T*);             \
  template void gelu_forward<T>(std::int64_t, const T*, T*);                        \
  template void gelu_backward<T>(std::int64_t, const T*, const T*, T*);             \
  template void add<T>(std::int64_t, const T*, const T*, T*);                       \
  template void accumulate<T>(std::int64_t, const T*, T*);                          \
  template void scale<T>(std::int64_t, T, T*);
CARNOT_INSTANTIATE(float)
CARNOT_INSTANTIATE(double)
#undef CARNOT_INSTANTIATE

}  // namespace carnot::cpu
