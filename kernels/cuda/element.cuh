// A kernel's storage type T and the type its arithmetic runs in: bf16 (__nv_bfloat16) computes in
// float and rounds once when stored, the op table's bf16 contract (kernels/ops.h); float and double
// compute in themselves, so their kernels are unchanged by going through ld/st.
#pragma once
#include <cuda_bf16.h>

namespace carnot::cuda_kernels {

template <class T> struct ComputeType {
  using type = T;
};
template <> struct ComputeType<__nv_bfloat16> {
  using type = float;
};
template <class T> using compute_t = typename ComputeType<T>::type;

template <class T> __device__ __forceinline__ compute_t<T> ld(T x) { return compute_t<T>(x); }
template <class T> __device__ __forceinline__ T st(compute_t<T> v) { return T(v); }  // bf16: round to nearest even

}  // namespace carnot::cuda_kernels
