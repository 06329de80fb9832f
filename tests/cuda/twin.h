// What the CUDA twin tests share: a host vector mirrored on the device, the skip without a GPU,
// and the comparisons (‖gpu − cpu‖/‖cpu‖ against a bound per dtype; bf16 to 1e-2).
#pragma once
#include <gtest/gtest.h>

#include <random>
#include <type_traits>
#include <vector>

#include "framework/core/device.h"
#include "kernels/bf16.h"
#include "kernels/cuda/cuda_runtime.h"
#include "tests/unit/test_support.h"

namespace carnot::twin {

#define SKIP_WITHOUT_GPU()                                                  \
  do {                                                                      \
    const DeviceChoice d = choose_device("auto", 0);                        \
    if (!d.gpu) GTEST_SKIP() << "no usable GPU: " << d.description;         \
  } while (0)

// A host vector mirrored on the device.
template <class T> struct Twin {
  std::vector<T> host;
  void* dev = nullptr;
  explicit Twin(std::vector<T> h) : host(std::move(h)), dev(cuda::malloc_device(std::max<std::size_t>(1, host.size()) * sizeof(T))) {
    cuda::copy_to_device(dev, host.data(), host.size() * sizeof(T));
  }
  ~Twin() { cuda::free_device(dev); }
  Twin(const Twin&) = delete;
  std::vector<T> from_device() const {
    std::vector<T> out(host.size());
    cuda::copy_to_host(out.data(), dev, out.size() * sizeof(T));
    return out;
  }
  T* h() { return host.data(); }
  T* d() { return static_cast<T*>(dev); }
};

using test::randn;

template <class T> inline std::vector<T> zeros(std::int64_t n) { return std::vector<T>(static_cast<std::size_t>(n)); }

template <class T> inline double bound() { return std::is_same_v<T, float> ? 1e-5 : 1e-12; }

template <class T> inline void expect_close(const Twin<T>& t, const char* what, double tol = bound<T>()) {
  EXPECT_LE(test::rel_error(t.from_device(), t.host, t.host.size()), tol) << what << " " << dtype_name(dtype_of<T>());
}

inline std::vector<std::uint16_t> bf16_randn(std::mt19937_64& rng, std::size_t n) {
  std::vector<std::uint16_t> v(n);
  const std::vector<double> r = randn<double>(rng, n);
  for (std::size_t i = 0; i < n; ++i) v[i] = float_to_bf16(float(r[i]));
  return v;
}

inline void expect_close_bf16(const Twin<std::uint16_t>& t, const char* what) {
  const std::vector<std::uint16_t> gpu = t.from_device();
  std::vector<double> g(gpu.size()), c(gpu.size());
  for (std::size_t i = 0; i < gpu.size(); ++i) g[i] = bf16_to_float(gpu[i]), c[i] = bf16_to_float(t.host[i]);
  EXPECT_LE(test::rel_error(g, c, c.size()), 1e-2) << what << " bfloat16";
}

}  // namespace carnot::twin
