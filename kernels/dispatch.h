// Shared by the op tables (kernels/cpu/cpu_ops.cpp, kernels/cuda/cuda_ops.cu): dispatch on the
// dtype to a templated kernel, and the typed views of the table's void pointers.
#pragma once
#include <stdexcept>
#include <string>

#include "kernels/dtype.h"

namespace carnot::ops_dispatch {

// Calls fn(T{}) with T the C++ type of dt (float32 or float64; a table handles bf16 before).
template <class Fn> auto dispatch(DType dt, Fn&& fn) {
  if (dt == DType::F64) return fn(double{});
  if (dt == DType::BF16) throw std::invalid_argument("this op has no bfloat16 version in this op table yet");
  return fn(float{});
}

// Typed views of void pointers (null stays null).
template <class T> const T* in(const void* p) { return static_cast<const T*>(p); }
template <class T> T* out(void* p) { return static_cast<T*>(p); }

}  // namespace carnot::ops_dispatch
