// Reductions: sums of squares and the squared-error loss, accumulated in float64 in index order.
#include "kernels/cpu/kernels.h"

namespace carnot::cpu {

template <class T> double sum_squares(std::int64_t n, const T* x) {
  double s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += double(x[i]) * double(x[i]);
  return s;
}

template <class T>
double mse_loss(std::int64_t rows, std::int64_t cols, const T* pred, const T* target,
                const float* row_weights, double grad_scale, T* dpred) {
  double total = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    const double w = row_weights ? double(row_weights[r]) : 1.0;
    const double g = 2.0 * grad_scale * w / double(cols);
    double row = 0;
    for (std::int64_t c = 0; c < cols; ++c) {
      const double d = double(pred[r * cols + c]) - double(target[r * cols + c]);
      row += d * d;
      if (dpred) dpred[r * cols + c] = T(g * d);
    }
    total += w * row / double(cols);
  }
  return total;
}

template double sum_squares<float>(std::int64_t, const float*);
template double sum_squares<double>(std::int64_t, const double*);
template double mse_loss<float>(std::int64_t, std::int64_t, const float*, const float*,
                                const float*, double, float*);
template double mse_loss<double>(std::int64_t, std::int64_t, const double*, const double*,
                                 const float*, double, double*);

}  // namespace carnot::cpu
