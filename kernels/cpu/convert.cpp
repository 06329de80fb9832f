// Conversions between the element types (float32, float64, bfloat16), optionally adding into y.
#include "kernels/bf16.h"
#include "kernels/cpu/kernels.h"

namespace carnot::cpu {

namespace {

double load(DType t, const void* p, std::int64_t i) {
  switch (t) {
    case DType::F32: return static_cast<const float*>(p)[i];
    case DType::F64: return static_cast<const double*>(p)[i];
    case DType::BF16: return bf16_to_float(static_cast<const std::uint16_t*>(p)[i]);
  }
  return 0;
}

// A bfloat16 result is rounded from float32, as on the GPU (float64 → float32 → bf16).
void store(DType t, void* p, std::int64_t i, double v) {
  switch (t) {
    case DType::F32: static_cast<float*>(p)[i] = float(v); return;
    case DType::F64: static_cast<double*>(p)[i] = v; return;
    case DType::BF16: static_cast<std::uint16_t*>(p)[i] = float_to_bf16(float(v)); return;
  }
}

}  // namespace

void convert(std::int64_t n, DType from, const void* x, DType to, void* y, bool accumulate) {
  if (from == DType::BF16 && to == DType::F32) {  // the hot pair: gradients and widening
    const auto* in = static_cast<const std::uint16_t*>(x);
    float* out = static_cast<float*>(y);
    for (std::int64_t i = 0; i < n; ++i) out[i] = accumulate ? out[i] + bf16_to_float(in[i]) : bf16_to_float(in[i]);
    return;
  }
  if (from == DType::F32 && to == DType::BF16 && !accumulate) {  // weights and narrowing
    const float* in = static_cast<const float*>(x);
    auto* out = static_cast<std::uint16_t*>(y);
    for (std::int64_t i = 0; i < n; ++i) out[i] = float_to_bf16(in[i]);
    return;
  }
  for (std::int64_t i = 0; i < n; ++i) {
    // In float32 where either side is bf16, so that y += x rounds once, as the GPU's does.
    const bool narrow = from == DType::BF16 || to == DType::BF16;
    double v = load(from, x, i);
    if (accumulate) v = narrow ? double(float(load(to, y, i)) + float(v)) : load(to, y, i) + v;
    store(to, y, i, v);
  }
}

}  // namespace carnot::cpu
