// Element types shared by the kernels and the framework's Tensor.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace carnot {

enum class DType : std::uint8_t { F32, F64 };

constexpr std::size_t dtype_size(DType t) { return t == DType::F32 ? 4 : 8; }

constexpr std::string_view dtype_name(DType t) { return t == DType::F32 ? "float32" : "float64"; }

// safetensors' spelling of the type.
constexpr std::string_view dtype_safetensors_name(DType t) { return t == DType::F32 ? "F32" : "F64"; }

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<double>() { return DType::F64; }

}  // namespace carnot
