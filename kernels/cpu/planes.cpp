// Per-plane broadcast and reduction on NCHW maps, and strided block copies (channel concatenation
// and its split, q/k/v into a fused qkv).
#include <algorithm>

#include "kernels/cpu/kernels.h"
#include "kernels/cpu/lane_sum.h"

namespace carnot::cpu {

template <class T> void add_per_plane(std::int64_t planes, std::int64_t hw, const T* v, T* y) {
  for (std::int64_t p = 0; p < planes; ++p) {
    const T b = v[p];
    T* row = y + p * hw;
    for (std::int64_t i = 0; i < hw; ++i) row[i] += b;
  }
}

template <class T> void sum_per_plane(std::int64_t planes, std::int64_t hw, const T* dy, T* dv) {
  for (std::int64_t p = 0; p < planes; ++p) {
    const T* row = dy + p * hw;
    dv[p] = T(lane_sum(hw, [&](std::int64_t i) { return double(row[i]); }));
  }
}

template <class T>
void copy_blocks(std::int64_t count, std::int64_t block, const T* src, std::int64_t src_stride, T* dst,
                 std::int64_t dst_stride, bool accumulate) {
  for (std::int64_t b = 0; b < count; ++b) {
    const T* s = src + b * src_stride;
    T* d = dst + b * dst_stride;
    if (accumulate)
      for (std::int64_t i = 0; i < block; ++i) d[i] += s[i];
    else if (s != d)  // a copy onto itself is allowed (kernels/ops.h) and has nothing to do
      std::copy(s, s + block, d);
  }
}

#define CARNOT_PLANES(T)                                                                   \
  template void add_per_plane<T>(std::int64_t, std::int64_t, const T*, T*);              \
  template void sum_per_plane<T>(std::int64_t, std::int64_t, const T*, T*);              \
  template void copy_blocks<T>(std::int64_t, std::int64_t, const T*, std::int64_t, T*, std::int64_t, bool);
CARNOT_PLANES(float)
CARNOT_PLANES(double)
#undef CARNOT_PLANES

}  // namespace carnot::cpu
