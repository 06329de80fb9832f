// Convolutions through cuDNN's convolution API, the whole batch in one call where conv2d.cu's
// im2col path loops over images: float32 (without TF32, CUDNN_FMA_MATH, so the twins hold to
// 1e-5) and bf16 (tensor cores, float32 accumulation). Only algorithms the heuristics mark
// deterministic are taken, so a training run stays bitwise repeatable. A plan (descriptors,
// algorithms, workspace sizes) is made once per geometry and dtype and kept.
//
// cuDNN pads symmetrically, so DDPM's end-padded down-sampling (pad_end_extra) is declined, as is
// anything the heuristics offer no deterministic algorithm for: the caller then takes the im2col
// path (bf16 through float32 copies, conv2d_bf16_via_float). The bias and its gradient are ours
// (one pass over y; float64 sums per channel in a fixed order).
#include <cudnn.h>

#include <array>
#include <map>
#include <stdexcept>
#include <string>

#include "kernels/cuda/element.cuh"
#include "kernels/cuda/kernels.cuh"
#include "kernels/cuda/launch.cuh"

namespace carnot::cuda_kernels {

namespace {

constexpr std::size_t kMaxWorkspace = std::size_t(256) << 20;

void check(cudnnStatus_t s, const char* what) {
  if (s != CUDNN_STATUS_SUCCESS)
    throw std::runtime_error(std::string("cuDNN ") + what + " failed: " + cudnnGetErrorString(s));
}

cudnnHandle_t handle() {
  static const cudnnHandle_t h = [] {
    cudnnHandle_t made = nullptr;
    check(cudnnCreate(&made), "cudnnCreate");
    return made;
  }();
  return h;
}

void* workspace(std::size_t bytes) {
  static GrowingScratch s;
  return s.get(bytes > 0 ? bytes : 1);
}

struct ConvPlan {
  bool usable = false;
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnConvolutionFwdAlgo_t fwd{};
  cudnnConvolutionBwdDataAlgo_t data{};
  cudnnConvolutionBwdFilterAlgo_t filter{};
  std::size_t fwd_bytes = 0, data_bytes = 0, filter_bytes = 0;
};

// The first deterministic algorithm in the heuristics' order that runs in the plan's math mode
// within the workspace cap.
template <class Perf, class Algo>
bool pick(const Perf* perf, int count, cudnnMathType_t math, Algo* algo, std::size_t* bytes) {
  for (int i = 0; i < count; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].determinism == CUDNN_DETERMINISTIC &&
        perf[i].mathType == math && perf[i].memory <= kMaxWorkspace) {
      *algo = perf[i].algo;
      *bytes = perf[i].memory;
      return true;
    }
  return false;
}

bool make_plan(ConvPlan& p, DType dt, const Conv2dShape& g) {
  auto ok = [](cudnnStatus_t s) { return s == CUDNN_STATUS_SUCCESS; };
  const cudnnDataType_t type = dt == DType::BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
  const cudnnMathType_t math = dt == DType::BF16 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
  if (!ok(cudnnCreateTensorDescriptor(&p.x)) || !ok(cudnnCreateTensorDescriptor(&p.y)) ||
      !ok(cudnnCreateFilterDescriptor(&p.w)) || !ok(cudnnCreateConvolutionDescriptor(&p.conv)))
    return false;
  if (!ok(cudnnSetTensor4dDescriptor(p.x, CUDNN_TENSOR_NCHW, type, int(g.batch), int(g.cin), int(g.h), int(g.w))) ||
      !ok(cudnnSetFilter4dDescriptor(p.w, type, CUDNN_TENSOR_NCHW, int(g.cout), int(g.cin), int(g.k), int(g.k))) ||
      !ok(cudnnSetConvolution2dDescriptor(p.conv, int(g.pad), int(g.pad), int(g.stride), int(g.stride), 1, 1,
                                          CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT)) ||
      !ok(cudnnSetConvolutionMathType(p.conv, math)))
    return false;
  int n = 0, c = 0, h = 0, w = 0;
  if (!ok(cudnnGetConvolution2dForwardOutputDim(p.conv, p.x, p.w, &n, &c, &h, &w)) || n != g.batch ||
      c != g.cout || h != g.out_h() || w != g.out_w())
    return false;
  if (!ok(cudnnSetTensor4dDescriptor(p.y, CUDNN_TENSOR_NCHW, type, n, c, h, w))) return false;
  int got = 0;
  cudnnConvolutionFwdAlgoPerf_t fwd[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  if (!ok(cudnnGetConvolutionForwardAlgorithm_v7(handle(), p.x, p.w, p.conv, p.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                 &got, fwd)) ||
      !pick(fwd, got, math, &p.fwd, &p.fwd_bytes))
    return false;
  cudnnConvolutionBwdDataAlgoPerf_t data[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
  if (!ok(cudnnGetConvolutionBackwardDataAlgorithm_v7(handle(), p.w, p.y, p.conv, p.x,
                                                      CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, data)) ||
      !pick(data, got, math, &p.data, &p.data_bytes))
    return false;
  cudnnConvolutionBwdFilterAlgoPerf_t filter[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
  if (!ok(cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle(), p.x, p.y, p.conv, p.w,
                                                        CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &got, filter)) ||
      !pick(filter, got, math, &p.filter, &p.filter_bytes))
    return false;
  return true;
}

const ConvPlan& plan_for(DType dt, const Conv2dShape& g) {
  static std::map<std::array<std::int64_t, 9>, ConvPlan> plans;
  const std::array<std::int64_t, 9> key{std::int64_t(dt), g.batch, g.cin, g.h, g.w, g.cout, g.k, g.stride, g.pad};
  auto it = plans.find(key);
  if (it == plans.end()) {
    ConvPlan p;
    p.usable = make_plan(p, dt, g);
    it = plans.emplace(key, p).first;
  }
  return it->second;
}

// y[b, c, :] += bias[c].
template <class T> __global__ void channel_bias_k(std::int64_t n, std::int64_t channels, std::int64_t hw, const T* bias, T* y) {
  CARNOT_GRID_STRIDE(i, n) y[i] = st<T>(ld(y[i]) + ld(bias[i / hw % channels]));
}

// dbias[c] += Σ over images and pixels of dy[b, c, :], one block a channel, float64 in order.
template <class T>
__global__ void channel_bias_grad_k(std::int64_t batch, std::int64_t channels, std::int64_t hw, const T* dy, T* dbias) {
  const std::int64_t c = blockIdx.x;
  double s = 0;
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t i = threadIdx.x; i < hw; i += blockDim.x) s += double(ld(dy[(b * channels + c) * hw + i]));
  s = block_sum(s);
  if (threadIdx.x == 0) dbias[c] = st<T>(compute_t<T>(double(ld(dbias[c])) + s));
}

template <class Fn> void on_type(DType dt, Fn&& fn) {
  if (dt == DType::BF16) fn(__nv_bfloat16{});
  else fn(float{});
}

bool cudnn_applies(DType dt, const Conv2dShape& g) {
  return (dt == DType::F32 || dt == DType::BF16) && g.pad_end_extra == 0 && g.batch > 0 && plan_for(dt, g).usable;
}

}  // namespace

bool cudnn_conv2d_forward(DType dt, const Conv2dShape& g, const void* x, const void* weight, const void* bias, void* y) {
  if (!cudnn_applies(dt, g)) return false;
  const ConvPlan& p = plan_for(dt, g);
  const float one = 1.0f, zero = 0.0f;
  check(cudnnConvolutionForward(handle(), &one, p.x, x, p.w, weight, p.conv, p.fwd, workspace(p.fwd_bytes),
                                p.fwd_bytes, &zero, p.y, y),
        "convolution forward");
  if (bias) {
    const std::int64_t hw = g.out_h() * g.out_w(), n = g.batch * g.cout * hw;
    on_type(dt, [&](auto z) {
      using T = decltype(z);
      launch(n, channel_bias_k<T>, n, g.cout, hw, static_cast<const T*>(bias), static_cast<T*>(y));
    });
  }
  return true;
}

bool cudnn_conv2d_backward(DType dt, const Conv2dShape& g, const void* x, const void* weight, const void* dy, void* dx,
                           void* dweight, void* dbias) {
  if (!cudnn_applies(dt, g)) return false;
  const ConvPlan& p = plan_for(dt, g);
  const float one = 1.0f, zero = 0.0f;
  check(cudnnConvolutionBackwardFilter(handle(), &one, p.x, x, p.y, dy, p.conv, p.filter, workspace(p.filter_bytes),
                                       p.filter_bytes, &one, p.w, dweight),
        "convolution backward (filter)");
  if (dbias && g.cout > 0) {
    on_type(dt, [&](auto z) {
      using T = decltype(z);
      channel_bias_grad_k<T><<<unsigned(g.cout), kThreads>>>(g.batch, g.cout, g.out_h() * g.out_w(),
                                                             static_cast<const T*>(dy), static_cast<T*>(dbias));
      CARNOT_CUDA_CHECK(cudaGetLastError());
    });
  }
  if (dx)
    check(cudnnConvolutionBackwardData(handle(), &one, p.w, weight, p.y, dy, p.conv, p.data, workspace(p.data_bytes),
                                       p.data_bytes, &zero, p.x, dx),
          "convolution backward (data)");
  return true;
}

// bf16 where cuDNN declines: float32 copies through the im2col path, outputs rounded once
// (dweight and dbias accumulate their float32 sums into the bf16 gradients).
namespace {
float* float_scratch(int slot, std::int64_t n) {
  static GrowingScratch slots[7];
  return static_cast<float*>(slots[slot].get(std::size_t(n > 0 ? n : 1) * sizeof(float)));
}
const float* widen(int slot, const void* p, std::int64_t n) {
  if (!p) return nullptr;
  float* w = float_scratch(slot, n);
  convert(n, DType::BF16, p, DType::F32, w, false);
  return w;
}
}  // namespace

void conv2d_bf16_via_float_forward(const Conv2dShape& g, const void* x, const void* weight, const void* bias,
                                   void* y) {
  const std::int64_t ny = g.batch * g.cout * g.out_h() * g.out_w();
  float* yf = float_scratch(3, ny);
  conv2d_forward<float>(g, widen(0, x, g.batch * g.cin * g.h * g.w), widen(1, weight, g.cout * g.cin * g.k * g.k),
                        widen(2, bias, g.cout), float_scratch(4, g.workspace_elements()), yf);
  convert(ny, DType::F32, yf, DType::BF16, y, false);
}

void conv2d_bf16_via_float_backward(const Conv2dShape& g, const void* x, const void* weight, const void* dy, void* dx,
                                    void* dweight, void* dbias) {
  const std::int64_t nx = g.batch * g.cin * g.h * g.w, nw = g.cout * g.cin * g.k * g.k;
  const float* xf = widen(0, x, nx);
  const float* wf = widen(1, weight, nw);
  const float* dyf = widen(2, dy, g.batch * g.cout * g.out_h() * g.out_w());
  float* dxf = dx ? float_scratch(3, nx) : nullptr;
  float* dwf = float_scratch(5, nw + g.cout);  // dweight, then dbias
  CARNOT_CUDA_CHECK(cudaMemset(dwf, 0, std::size_t(nw + g.cout) * sizeof(float)));
  conv2d_backward<float>(g, xf, wf, dyf, float_scratch(4, g.workspace_elements()), dxf, dwf, dbias ? dwf + nw : nullptr);
  if (dx) convert(nx, DType::F32, dxf, DType::BF16, dx, false);
  convert(nw, DType::F32, dwf, DType::BF16, dweight, true);
  if (dbias) convert(g.cout, DType::F32, dwf + nw, DType::BF16, dbias, true);
}

}  // namespace carnot::cuda_kernels
