// Conversions between float32, float64 and bfloat16 (optionally adding into y): the CPU twin is
// kernels/cpu/convert.cpp. bf16 results round from float32 to nearest even (__float2bfloat16_rn).
#include <cuda_bf16.h>

#include "kernels/cuda/kernels.cuh"
#include "kernels/cuda/launch.cuh"

namespace carnot::cuda_kernels {

namespace {

__device__ double load(DType t, const void* p, std::int64_t i) {
  if (t == DType::F32) return static_cast<const float*>(p)[i];
  if (t == DType::F64) return static_cast<const double*>(p)[i];
  return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
}

__device__ void store(DType t, void* p, std::int64_t i, double v) {
  if (t == DType::F32) static_cast<float*>(p)[i] = float(v);
  else if (t == DType::F64) static_cast<double*>(p)[i] = v;
  else static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(float(v));
}

__global__ void convert_k(std::int64_t n, DType from, const void* x, DType to, void* y, bool accumulate) {
  const bool narrow = from == DType::BF16 || to == DType::BF16;
  CARNOT_GRID_STRIDE(i, n) {
    double v = load(from, x, i);
    if (accumulate) v = narrow ? double(float(load(to, y, i)) + float(v)) : load(to, y, i) + v;
    store(to, y, i, v);
  }
}

}  // namespace

void convert(std::int64_t n, DType from, const void* x, DType to, void* y, bool accumulate) {
  launch(n, convert_k, n, from, x, to, y, accumulate);
}

}  // namespace carnot::cuda_kernels
