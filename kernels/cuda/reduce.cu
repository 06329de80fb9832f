// Deterministic float64 reductions: a fixed grid of kReduceBlocks blocks, each block's grid-stride
// partial summed by a tree in shared memory, and the blocks' partials added on the host in block
// order; the same input gives the same bits on every call.
#include <vector>

#include "kernels/cuda/kernels.cuh"
#include "kernels/cuda/launch.cuh"

namespace carnot::cuda_kernels {

namespace {

constexpr int kReduceBlocks = 240;

// Device memory for the partial sums, allocated on first use.
double* partial_buffer() {
  static double* p = [] {
    double* q = nullptr;
    CARNOT_CUDA_CHECK(cudaMalloc(&q, kReduceBlocks * sizeof(double)));
    return q;
  }();
  return p;
}

double sum_partials(const double* partial) {
  CARNOT_CUDA_CHECK(cudaGetLastError());
  double host[kReduceBlocks];
  CARNOT_CUDA_CHECK(cudaMemcpy(host, partial, sizeof host, cudaMemcpyDeviceToHost));
  double s = 0;
  for (double v : host) s += v;
  return s;
}

template <class T> __global__ void sum_squares_k(std::int64_t n, const T* x, double* partial) {
  double s = 0;
  CARNOT_GRID_STRIDE(i, n) s += double(x[i]) * double(x[i]);
  s = block_sum(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

template <class T>
__global__ void mse_k(std::int64_t rows, std::int64_t cols, const T* pred, const T* target, const float* w,
                      double grad_scale, T* dpred, double* partial) {
  double s = 0;
  CARNOT_GRID_STRIDE(i, rows * cols) {
    const double wr = w ? double(w[i / cols]) : 1.0;
    const double d = double(pred[i]) - double(target[i]);
    if (dpred) dpred[i] = T(2.0 * grad_scale * wr / double(cols) * d);
    s += wr * d * d / double(cols);
  }
  s = block_sum(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

}  // namespace

template <class T> double sum_squares(std::int64_t n, const T* x) {
  if (n <= 0) return 0;
  double* partial = partial_buffer();
  sum_squares_k<T><<<kReduceBlocks, kThreads>>>(n, x, partial);
  return sum_partials(partial);
}

template <class T>
double mse_loss(std::int64_t rows, std::int64_t cols, const T* pred, const T* target, const float* row_weights,
                double grad_scale, T* dpred) {
  if (rows * cols <= 0) return 0;
  double* partial = partial_buffer();
  mse_k<T><<<kReduceBlocks, kThreads>>>(rows, cols, pred, target, row_weights, grad_scale, dpred, partial);
  return sum_partials(partial);
}

template double sum_squares<float>(std::int64_t, const float*);
template double sum_squares<double>(std::int64_t, const double*);
template double mse_loss<float>(std::int64_t, std::int64_t, const float*, const float*, const float*, double, float*);
template double mse_loss<double>(std::int64_t, std::int64_t, const double*, const double*, const float*, double,
                                 double*);

}  // namespace carnot::cuda_kernels
