// 2-D convolution on NCHW images as the CPU twin computes it (kernels/cpu/conv2d.cpp): per image,
// im2col into the caller's workspace and one cuBLAS GEMM; backward dW += dy colsᵀ, and dx from
// dcols = Wᵀ dy gathered back (each input pixel sums the columns that read it, in the CPU's
// (ki, kj) order: deterministic, no atomics). A 1×1 convolution is a plain GEMM. cuDNN is the
// faster path issue 7 names; this one is exact and serves every geometry the models use
// (3×3 same, strided down-sampling with end padding, DiT's patch embedding).
#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/kernels.cuh"
#include "kernels/cuda/launch.cuh"

namespace carnot::cuda_kernels {

namespace {

// ho, wo: g.out_h(), g.out_w() (host functions), passed in.
template <class T> __global__ void im2col_k(Conv2dShape g, std::int64_t ho, std::int64_t wo, const T* x, T* cols) {
  const std::int64_t k = g.k;
  CARNOT_GRID_STRIDE(e, g.cin * k * k * ho * wo) {
    const std::int64_t oj = e % wo, oi = e / wo % ho, row = e / (ho * wo);
    const std::int64_t kj = row % k, ki = row / k % k, c = row / (k * k);
    const std::int64_t i = oi * g.stride - g.pad + ki, j = oj * g.stride - g.pad + kj;
    cols[e] = (i >= 0 && i < g.h && j >= 0 && j < g.w) ? x[(c * g.h + i) * g.w + j] : T(0);
  }
}

template <class T>
__global__ void col2im_gather_k(Conv2dShape g, std::int64_t ho, std::int64_t wo, const T* cols, T* dx) {
  const std::int64_t k = g.k, s = g.stride;
  CARNOT_GRID_STRIDE(e, g.cin * g.h * g.w) {
    const std::int64_t j = e % g.w, i = e / g.w % g.h, c = e / (g.h * g.w);
    T sum = T(0);
    for (std::int64_t ki = 0; ki < k; ++ki) {
      const std::int64_t ti = i + g.pad - ki;
      if (ti < 0 || ti % s != 0 || ti / s >= ho) continue;
      for (std::int64_t kj = 0; kj < k; ++kj) {
        const std::int64_t tj = j + g.pad - kj;
        if (tj < 0 || tj % s != 0 || tj / s >= wo) continue;
        sum += cols[((c * k + ki) * k + kj) * ho * wo + (ti / s) * wo + tj / s];
      }
    }
    dx[e] = sum;
  }
}

// dbias[c] += Σ over the image's pixels of dy[c, :], one block per channel, float64 sum.
template <class T> __global__ void bias_sum_k(std::int64_t hw, const T* dy, T* dbias) {
  const T* row = dy + std::int64_t(blockIdx.x) * hw;
  double s = 0;
  for (std::int64_t i = threadIdx.x; i < hw; i += blockDim.x) s += double(row[i]);
  s = block_sum(s);
  if (threadIdx.x == 0) dbias[blockIdx.x] += T(s);
}

}  // namespace

template <class T>
void conv2d_forward(const Conv2dShape& g, const T* x, const T* weight, const T* bias, T* workspace, T* y) {
  const std::int64_t ho = g.out_h(), wo = g.out_w(), kk = g.cin * g.k * g.k;
  for (std::int64_t b = 0; b < g.batch; ++b) {
    const T* xb = x + b * g.cin * g.h * g.w;
    const T* cols = xb;
    if (!g.pointwise()) {
      launch(kk * ho * wo, im2col_k<T>, g, ho, wo, xb, workspace);
      cols = workspace;
    }
    T* yb = y + b * g.cout * ho * wo;
    gemm<T>(false, false, g.cout, ho * wo, kk, T(1), weight, kk, cols, ho * wo, T(0), yb, ho * wo);
    if (bias) add_per_plane<T>(g.cout, ho * wo, bias, yb);
  }
}

template <class T>
void conv2d_backward(const Conv2dShape& g, const T* x, const T* weight, const T* dy, T* workspace, T* dx, T* dweight,
                     T* dbias) {
  const std::int64_t ho = g.out_h(), wo = g.out_w(), hw = g.h * g.w, kk = g.cin * g.k * g.k;
  for (std::int64_t b = 0; b < g.batch; ++b) {
    const T* dyb = dy + b * g.cout * ho * wo;
    const T* xb = x + b * g.cin * hw;
    const T* cols = xb;
    if (!g.pointwise()) {
      launch(kk * ho * wo, im2col_k<T>, g, ho, wo, xb, workspace);
      cols = workspace;
    }
    gemm<T>(false, true, g.cout, kk, ho * wo, T(1), dyb, ho * wo, cols, ho * wo, T(1), dweight, kk);
    if (dbias && g.cout > 0) {
      bias_sum_k<T><<<unsigned(g.cout), kThreads>>>(ho * wo, dyb, dbias);
      CARNOT_CUDA_CHECK(cudaGetLastError());
    }
    if (!dx) continue;
    T* dxb = dx + b * g.cin * hw;
    if (g.pointwise()) {
      gemm<T>(true, false, g.cin, hw, g.cout, T(1), weight, g.cin, dyb, hw, T(0), dxb, hw);
    } else {
      gemm<T>(true, false, kk, ho * wo, g.cout, T(1), weight, kk, dyb, ho * wo, T(0), workspace, ho * wo);
      launch(g.cin * hw, col2im_gather_k<T>, g, ho, wo, static_cast<const T*>(workspace), dxb);
    }
  }
}

template void conv2d_forward<float>(const Conv2dShape&, const float*, const float*, const float*, float*, float*);
template void conv2d_forward<double>(const Conv2dShape&, const double*, const double*, const double*, double*,
                                     double*);
template void conv2d_backward<float>(const Conv2dShape&, const float*, const float*, const float*, float*, float*,
                                     float*, float*);
template void conv2d_backward<double>(const Conv2dShape&, const double*, const double*, const double*, double*,
                                      double*, double*, double*);

}  // namespace carnot::cuda_kernels
