// Element types shared by the kernels and the framework's Tensor.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace carnot {

// BF16 is bfloat16 (kernels/bf16.h): the mixed-precision compute type. Its ops compute in float32
// from bf16 inputs and round each output once (kernels/ops.h).
enum class DType : std::uint8_t { F32, F64, BF16 };

constexpr std::size_t dtype_size(DType t) { return t == DType::F32 ? 4 : t == DType::F64 ? 8 : 2; }

constexpr std::string_view dtype_name(DType t) {
  return t == DType::F32 ? "float32" : t == DType::F64 ? "float64" : "bfloat16";
}

// safetensors' spelling of the type.
constexpr std::string_view dtype_safetensors_name(DType t) {
  return t == DType::F32 ? "F32" : t == DType::F64 ? "F64" : "BF16";
}

// The type of LayerNorm's and GroupNorm's saved statistics: float32 under bf16, else the dtype.
constexpr DType stats_dtype(DType t) { return t == DType::BF16 ? DType::F32 : t; }

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<double>() { return DType::F64; }

}  // namespace carnot
