// Elementwise kernels and the op table on the GPU (cuda_ops.h). Grid-stride loops over flat
// buffers; the math is the CPU twin's (kernels/cpu/elementwise.cpp, optimizer_steps.cpp).
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace carnot {

namespace {

constexpr int kThreads = 256;
constexpr int kReduceBlocks = 240;  // fixed, so reductions sum in the same order on every call

int blocks_for(std::int64_t n) {
  const std::int64_t b = (n + kThreads - 1) / kThreads;
  return int(b < 1 ? 1 : b > 65535 * 8 ? 65535 * 8 : b);
}

#define CARNOT_GRID_STRIDE(i, n) \
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += std::int64_t(gridDim.x) * blockDim.x)

template <class T> __device__ T sigmoid_d(T x) { return T(1) / (T(1) + exp(-x)); }

template <class T> __global__ void silu_fwd(std::int64_t n, const T* x, T* y) {
  CARNOT_GRID_STRIDE(i, n) y[i] = x[i] * sigmoid_d(x[i]);
}
template <class T> __global__ void silu_bwd(std::int64_t n, const T* x, const T* dy, T* dx) {
  CARNOT_GRID_STRIDE(i, n) {
    const T s = sigmoid_d(x[i]);
    dx[i] = dy[i] * s * (T(1) + x[i] * (T(1) - s));
  }
}
template <class T> __global__ void relu_fwd(std::int64_t n, const T* x, T* y) {
  CARNOT_GRID_STRIDE(i, n) y[i] = x[i] > T(0) ? x[i] : T(0);
}
template <class T> __global__ void relu_bwd(std::int64_t n, const T* x, const T* dy, T* dx) {
  CARNOT_GRID_STRIDE(i, n) dx[i] = x[i] > T(0) ? dy[i] : T(0);
}
// GELU, tanh form, as the CPU twin.
template <class T> __global__ void gelu_fwd(std::int64_t n, const T* x, T* y) {
  const T k = T(0.7978845608028654), a = T(0.044715);
  CARNOT_GRID_STRIDE(i, n) y[i] = T(0.5) * x[i] * (T(1) + tanh(k * (x[i] + a * x[i] * x[i] * x[i])));
}
template <class T> __global__ void gelu_bwd(std::int64_t n, const T* x, const T* dy, T* dx) {
  const T k = T(0.7978845608028654), a = T(0.044715);
  CARNOT_GRID_STRIDE(i, n) {
    const T th = tanh(k * (x[i] + a * x[i] * x[i] * x[i]));
    dx[i] = dy[i] * (T(0.5) * (T(1) + th) + T(0.5) * x[i] * (T(1) - th * th) * k * (T(1) + T(3) * a * x[i] * x[i]));
  }
}
template <class T> __global__ void add_k(std::int64_t n, const T* a, const T* b, T* y) {
  CARNOT_GRID_STRIDE(i, n) y[i] = a[i] + b[i];
}
template <class T> __global__ void accumulate_k(std::int64_t n, const T* x, T* y) {
  CARNOT_GRID_STRIDE(i, n) y[i] += x[i];
}
template <class T> __global__ void scale_k(std::int64_t n, T s, T* y) {
  CARNOT_GRID_STRIDE(i, n) y[i] *= s;
}
template <class T> __global__ void add_bias_k(std::int64_t rows, std::int64_t cols, const T* bias, T* y) {
  CARNOT_GRID_STRIDE(i, rows * cols) y[i] += bias[i % cols];
}
// One thread per column sums its rows in order: the CPU twin's order, so no atomics.
template <class T> __global__ void bias_grad_k(std::int64_t rows, std::int64_t cols, const T* dy, T* dbias) {
  CARNOT_GRID_STRIDE(c, cols) {
    T s = dbias[c];
    for (std::int64_t r = 0; r < rows; ++r) s += dy[r * cols + c];
    dbias[c] = s;
  }
}

// Per-block float64 partial sums of f(i) over a grid-stride loop; block b writes partial[b].
template <class F> __device__ void block_sum(std::int64_t n, F f, double* partial) {
  __shared__ double cache[kThreads];
  double s = 0;
  CARNOT_GRID_STRIDE(i, n) s += f(i);
  cache[threadIdx.x] = s;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (int(threadIdx.x) < half) cache[threadIdx.x] += cache[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = cache[0];
}
template <class T> __global__ void sum_squares_k(std::int64_t n, const T* x, double* partial) {
  block_sum(n, [=] __device__(std::int64_t i) { const double v = double(x[i]); return v * v; }, partial);
}
template <class T>
__global__ void mse_k(std::int64_t rows, std::int64_t cols, const T* pred, const T* target, const float* w,
                      double grad_scale, T* dpred, double* partial) {
  block_sum(rows * cols, [=] __device__(std::int64_t i) {
    const std::int64_t r = i / cols;
    const double wr = w ? double(w[r]) : 1.0;
    const double d = double(pred[i]) - double(target[i]);
    if (dpred) dpred[i] = T(2.0 * grad_scale * wr / double(cols) * d);
    return wr * d * d / double(cols);
  }, partial);
}

__global__ void adamw_k(std::int64_t n, float* p, const float* g, float* m, float* v, float beta1, float beta2,
                        float eps, float decay, float step_size, float bc2_sqrt) {
  CARNOT_GRID_STRIDE(i, n) {
    const float gi = g[i];
    m[i] = beta1 * m[i] + (1.0f - beta1) * gi;
    v[i] = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    const float denom = sqrtf(v[i]) / bc2_sqrt + eps;
    p[i] = p[i] * decay - step_size * m[i] / denom;
  }
}
__global__ void sgd_k(std::int64_t n, float* p, const float* grad, float* buf, float lr, float momentum, float wd,
                      bool nesterov) {
  CARNOT_GRID_STRIDE(i, n) {
    float g = grad[i] + wd * p[i];
    if (momentum > 0) {
      buf[i] = momentum * buf[i] + g;
      g = nesterov ? g + momentum * buf[i] : buf[i];
    }
    p[i] -= lr * g;
  }
}
__global__ void ema_k(std::int64_t n, float decay, const float* p, float* e) {
  CARNOT_GRID_STRIDE(i, n) e[i] = decay * e[i] + (1.0f - decay) * p[i];
}

template <class T> const T* in(const void* p) { return static_cast<const T*>(p); }
template <class T> T* out(void* p) { return static_cast<T*>(p); }

class CudaOps final : public Ops {
 public:
  CudaOps() { CARNOT_CUDA_CHECK(cudaMalloc(&partial_, kReduceBlocks * sizeof(double))); }
  ~CudaOps() override { cudaFree(partial_); }

  void gemm(DType, bool, bool, std::int64_t, std::int64_t, std::int64_t, double, const void*, std::int64_t,
            const void*, std::int64_t, double, void*, std::int64_t) override { missing("gemm"); }
  void add_bias(DType dt, std::int64_t rows, std::int64_t cols, const void* bias, void* y) override {
    if (dt == DType::F32) launch(rows * cols, add_bias_k<float>, rows, cols, in<float>(bias), out<float>(y));
    else launch(rows * cols, add_bias_k<double>, rows, cols, in<double>(bias), out<double>(y));
  }
  void bias_grad(DType dt, std::int64_t rows, std::int64_t cols, const void* dy, void* dbias) override {
    if (dt == DType::F32) launch(cols, bias_grad_k<float>, rows, cols, in<float>(dy), out<float>(dbias));
    else launch(cols, bias_grad_k<double>, rows, cols, in<double>(dy), out<double>(dbias));
  }
  void silu_forward(DType dt, std::int64_t n, const void* x, void* y) override { unary(dt, n, x, y, silu_fwd<float>, silu_fwd<double>); }
  void silu_backward(DType dt, std::int64_t n, const void* x, const void* dy, void* dx) override {
    binary(dt, n, x, dy, dx, silu_bwd<float>, silu_bwd<double>);
  }
  void relu_forward(DType dt, std::int64_t n, const void* x, void* y) override { unary(dt, n, x, y, relu_fwd<float>, relu_fwd<double>); }
  void relu_backward(DType dt, std::int64_t n, const void* x, const void* dy, void* dx) override {
    binary(dt, n, x, dy, dx, relu_bwd<float>, relu_bwd<double>);
  }
  void gelu_forward(DType dt, std::int64_t n, const void* x, void* y) override { unary(dt, n, x, y, gelu_fwd<float>, gelu_fwd<double>); }
  void gelu_backward(DType dt, std::int64_t n, const void* x, const void* dy, void* dx) override {
    binary(dt, n, x, dy, dx, gelu_bwd<float>, gelu_bwd<double>);
  }
  void layer_norm_forward(DType, std::int64_t, std::int64_t, double, const void*, void*, void*, void*) override {
    missing("layer_norm_forward");
  }
  void layer_norm_backward(DType, std::int64_t, std::int64_t, const void*, const void*, const void*, const void*,
                           void*) override { missing("layer_norm_backward"); }
  void modulate_forward(DType, std::int64_t, std::int64_t, std::int64_t, const void*, const void*, const void*,
                        std::int64_t, void*) override { missing("modulate_forward"); }
  void modulate_backward(DType, std::int64_t, std::int64_t, std::int64_t, const void*, const void*, std::int64_t,
                         const void*, void*, void*, void*) override { missing("modulate_backward"); }
  void gated_residual_forward(DType, std::int64_t, std::int64_t, std::int64_t, const void*, const void*, std::int64_t,
                              void*) override { missing("gated_residual_forward"); }
  void gated_residual_backward(DType, std::int64_t, std::int64_t, std::int64_t, const void*, const void*, std::int64_t,
                               const void*, void*, void*) override { missing("gated_residual_backward"); }
  void group_norm_forward(DType, std::int64_t, std::int64_t, std::int64_t, std::int64_t, double, const void*,
                          const void*, const void*, void*, void*, void*) override { missing("group_norm_forward"); }
  void group_norm_backward(DType, std::int64_t, std::int64_t, std::int64_t, std::int64_t, const void*, const void*,
                           const void*, const void*, const void*, void*, void*, void*) override {
    missing("group_norm_backward");
  }
  void attention_forward(DType, std::int64_t, std::int64_t, std::int64_t, std::int64_t, const void*, void*,
                         void*) override { missing("attention_forward"); }
  void attention_backward(DType, std::int64_t, std::int64_t, std::int64_t, std::int64_t, const void*, const void*,
                          const void*, void*, void*) override { missing("attention_backward"); }
  void conv2d_forward(DType, const Conv2dShape&, const void*, const void*, const void*, void*, void*) override {
    missing("conv2d_forward");
  }
  void conv2d_backward(DType, const Conv2dShape&, const void*, const void*, const void*, void*, void*, void*,
                       void*) override { missing("conv2d_backward"); }
  void add_per_plane(DType, std::int64_t, std::int64_t, const void*, void*) override {
    missing("add_per_plane");
  }
  void sum_per_plane(DType, std::int64_t, std::int64_t, const void*, void*) override {
    missing("sum_per_plane");
  }
  void dropout_forward(DType, std::int64_t, std::int64_t, double, const DropoutKey&, const void*, void*, void*) override {
    missing("dropout_forward");
  }
  void dropout_backward(DType, std::int64_t, const void*, const void*, void*) override {
    missing("dropout_backward");
  }
  void upsample2x_forward(DType, std::int64_t, std::int64_t, std::int64_t, const void*, void*) override {
    missing("upsample2x_forward");
  }
  void upsample2x_backward(DType, std::int64_t, std::int64_t, std::int64_t, const void*, void*) override {
    missing("upsample2x_backward");
  }
  void embedding_forward(DType, std::int64_t, std::int64_t, const void*, const std::int64_t*, void*) override {
    missing("embedding_forward");
  }
  void embedding_backward(DType, std::int64_t, std::int64_t, const std::int64_t*, const void*, void*) override {
    missing("embedding_backward");
  }
  void transpose_batched(DType, std::int64_t, std::int64_t, std::int64_t, const void*, void*) override {
    missing("transpose_batched");
  }
  void unpatchify(DType, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, bool, const void*,
                  void*) override { missing("unpatchify"); }
  void copy_blocks(DType, std::int64_t, std::int64_t, const void*, std::int64_t, void*, std::int64_t, bool) override {
    missing("copy_blocks");
  }
  void add(DType dt, std::int64_t n, const void* a, const void* b, void* y) override {
    if (dt == DType::F32) launch(n, add_k<float>, n, in<float>(a), in<float>(b), out<float>(y));
    else launch(n, add_k<double>, n, in<double>(a), in<double>(b), out<double>(y));
  }
  void accumulate(DType dt, std::int64_t n, const void* x, void* y) override { unary(dt, n, x, y, accumulate_k<float>, accumulate_k<double>); }
  void scale(DType dt, std::int64_t n, double s, void* y) override {
    if (dt == DType::F32) launch(n, scale_k<float>, n, float(s), out<float>(y));
    else launch(n, scale_k<double>, n, s, out<double>(y));
  }
  void fill_zero(DType dt, std::int64_t n, void* y) override {
    if (n > 0) CARNOT_CUDA_CHECK(cudaMemset(y, 0, std::size_t(n) * dtype_size(dt)));
  }
  void timestep_embedding(DType, std::int64_t, std::int64_t, const float*, const SinusoidStyle&, void*) override {
    missing("timestep_embedding");
  }
  double sum_squares(DType dt, std::int64_t n, const void* x) override {
    if (n <= 0) return 0;
    if (dt == DType::F32) sum_squares_k<float><<<kReduceBlocks, kThreads>>>(n, in<float>(x), partial_);
    else sum_squares_k<double><<<kReduceBlocks, kThreads>>>(n, in<double>(x), partial_);
    return partials();
  }
  double mse_loss(DType dt, std::int64_t rows, std::int64_t cols, const void* pred, const void* target,
                  const float* row_weights, double grad_scale, void* dpred) override {
    if (rows * cols <= 0) return 0;
    if (dt == DType::F32)
      mse_k<float><<<kReduceBlocks, kThreads>>>(rows, cols, in<float>(pred), in<float>(target), row_weights, grad_scale,
                                                out<float>(dpred), partial_);
    else
      mse_k<double><<<kReduceBlocks, kThreads>>>(rows, cols, in<double>(pred), in<double>(target), row_weights,
                                                 grad_scale, out<double>(dpred), partial_);
    return partials();
  }
  void adamw_step(std::int64_t n, float* param, const float* grad, float* m, float* v, float lr, float beta1,
                  float beta2, float eps, float weight_decay, std::int64_t step) override {
    // The CPU twin's bias corrections, in float64 on the host.
    const double bc1 = 1.0 - std::pow(double(beta1), double(step)), bc2 = 1.0 - std::pow(double(beta2), double(step));
    launch(n, adamw_k, n, param, grad, m, v, beta1, beta2, eps, 1.0f - lr * weight_decay, float(lr / bc1),
           float(std::sqrt(bc2)));
  }
  void sgd_step(std::int64_t n, float* param, const float* grad, float* buf, float lr, float momentum,
                float weight_decay, bool nesterov) override {
    launch(n, sgd_k, n, param, grad, buf, lr, momentum, weight_decay, nesterov);
  }
  void ema_update(std::int64_t n, float decay, const float* param, float* ema) override {
    launch(n, ema_k, n, decay, param, ema);
  }

 private:
  double* partial_ = nullptr;

  [[noreturn]] static void missing(const char* op) {
    throw std::runtime_error(std::string("cuda_ops: ") + op + " is not on the GPU yet (issue 7); run this model on the CPU");
  }
  template <class Kernel, class... Args> static void launch(std::int64_t n, Kernel kernel, Args... args) {
    if (n <= 0) return;
    kernel<<<blocks_for(n), kThreads>>>(args...);
    CARNOT_CUDA_CHECK(cudaGetLastError());
  }
  template <class KF, class KD> static void unary(DType dt, std::int64_t n, const void* x, void* y, KF kf, KD kd) {
    if (dt == DType::F32) launch(n, kf, n, in<float>(x), out<float>(y));
    else launch(n, kd, n, in<double>(x), out<double>(y));
  }
  template <class KF, class KD>
  static void binary(DType dt, std::int64_t n, const void* x, const void* dy, void* dx, KF kf, KD kd) {
    if (dt == DType::F32) launch(n, kf, n, in<float>(x), in<float>(dy), out<float>(dx));
    else launch(n, kd, n, in<double>(x), in<double>(dy), out<double>(dx));
  }
  // The blocks' partial sums, added on the host in block order.
  double partials() {
    CARNOT_CUDA_CHECK(cudaGetLastError());
    double host[kReduceBlocks];
    CARNOT_CUDA_CHECK(cudaMemcpy(host, partial_, sizeof host, cudaMemcpyDeviceToHost));
    double s = 0;
    for (double v : host) s += v;
    return s;
  }
};

}  // namespace

Ops& cuda_ops() {
  static CudaOps ops;
  return ops;
}

}  // namespace carnot
