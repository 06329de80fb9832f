// The CUDA op table against its CPU twin, op by op, on fresh random inputs in float32 and float64:
// ‖gpu − cpu‖/‖cpu‖ ≤ 1e-5 in float32 (the CPU's fast exp differs from CUDA's in the last bits)
// and ≤ 1e-12 in float64; reductions (float64 sums in another order) to 1e-12 and bitwise equal
// run to run. Skipped with a message when no GPU is usable.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <random>

#include "framework/core/device.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/cuda_runtime.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

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

template <class T> std::vector<T> randn(std::mt19937_64& rng, std::size_t n, double scale = 1.0) {
  std::normal_distribution<double> normal;
  std::vector<T> v(n);
  for (T& x : v) x = T(scale * normal(rng));
  return v;
}

template <class T> std::vector<T> zeros(std::int64_t n) { return std::vector<T>(static_cast<std::size_t>(n)); }

template <class T> double bound() { return std::is_same_v<T, float> ? 1e-5 : 1e-12; }

template <class T> void elementwise_ops(std::mt19937_64& rng) {
  const DType dt = dtype_of<T>();
  const std::int64_t rows = 37, cols = 129, n = rows * cols;
  Ops& gpu = cuda_ops();
  Ops& cpu = cpu_ops();
  using Unary = std::function<void(Ops&, const void*, void*)>;
  using Binary = std::function<void(Ops&, const void*, const void*, void*)>;
  const std::pair<const char*, Unary> unary[] = {
      {"silu_forward", [&](Ops& o, const void* x, void* y) { o.silu_forward(dt, n, x, y); }},
      {"relu_forward", [&](Ops& o, const void* x, void* y) { o.relu_forward(dt, n, x, y); }},
      {"gelu_forward", [&](Ops& o, const void* x, void* y) { o.gelu_forward(dt, n, x, y); }},
      {"accumulate", [&](Ops& o, const void* x, void* y) { o.accumulate(dt, n, x, y); }},
      {"add_bias", [&](Ops& o, const void* b, void* y) { o.add_bias(dt, rows, cols, b, y); }},
      {"bias_grad", [&](Ops& o, const void* dy, void* db) { o.bias_grad(dt, rows, cols, dy, db); }},
  };
  for (const auto& [name, op] : unary) {
    Twin<T> x(randn<T>(rng, std::size_t(n), 2.0)), y(randn<T>(rng, std::size_t(n)));
    op(cpu, x.h(), y.h());
    op(gpu, x.d(), y.d());
    const std::size_t len = std::string(name) == "bias_grad" ? std::size_t(cols) : y.host.size();
    const double e = test::rel_error(y.from_device(), y.host, len);
    EXPECT_LT(e, bound<T>()) << name << " " << dtype_name(dt);
  }
  const std::pair<const char*, Binary> binary[] = {
      {"silu_backward", [&](Ops& o, const void* x, const void* dy, void* dx) { o.silu_backward(dt, n, x, dy, dx); }},
      {"relu_backward", [&](Ops& o, const void* x, const void* dy, void* dx) { o.relu_backward(dt, n, x, dy, dx); }},
      {"gelu_backward", [&](Ops& o, const void* x, const void* dy, void* dx) { o.gelu_backward(dt, n, x, dy, dx); }},
      {"add", [&](Ops& o, const void* a, const void* b, void* y) { o.add(dt, n, a, b, y); }},
  };
  for (const auto& [name, op] : binary) {
    Twin<T> x(randn<T>(rng, std::size_t(n), 2.0)), dy(randn<T>(rng, std::size_t(n))), dx(zeros<T>(n));
    op(cpu, x.h(), dy.h(), dx.h());
    op(gpu, x.d(), dy.d(), dx.d());
    EXPECT_LT(test::rel_error(dx.from_device(), dx.host, dx.host.size()), bound<T>()) << name << " " << dtype_name(dt);
  }
  Twin<T> s(randn<T>(rng, std::size_t(n)));
  cpu.scale(dt, n, -0.37, s.h());
  gpu.scale(dt, n, -0.37, s.d());
  EXPECT_LT(test::rel_error(s.from_device(), s.host, s.host.size()), bound<T>()) << "scale";
  gpu.fill_zero(dt, n, s.d());
  for (T v : s.from_device()) ASSERT_EQ(v, T(0)) << "fill_zero";
}

TEST(CudaOps, ElementwiseMatchCpuTwin) {
  SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::fresh_seed("CudaOps.Elementwise"));
  elementwise_ops<float>(rng);
  elementwise_ops<double>(rng);
}

template <class T> void reductions(std::mt19937_64& rng) {
  const DType dt = dtype_of<T>();
  for (const std::int64_t n : {std::int64_t(1), std::int64_t(1000), std::int64_t(3) << 20}) {
    Twin<T> x(randn<T>(rng, std::size_t(n)));
    const double want = cpu_ops().sum_squares(dt, n, x.h());
    const double got = cuda_ops().sum_squares(dt, n, x.d()), again = cuda_ops().sum_squares(dt, n, x.d());
    EXPECT_NEAR(got, want, 1e-12 * want) << "sum_squares n " << n;
    EXPECT_EQ(std::memcmp(&got, &again, sizeof got), 0) << "sum_squares is not deterministic";
  }
  const std::int64_t rows = 301, cols = 17;
  Twin<T> pred(randn<T>(rng, std::size_t(rows * cols))), target(randn<T>(rng, std::size_t(rows * cols)));
  Twin<T> dpred(zeros<T>(rows * cols));
  std::vector<float> w0(static_cast<std::size_t>(rows));
  for (float& v : w0) v = float(std::uniform_real_distribution<double>(0.1, 2.0)(rng));
  Twin<float> w(w0);
  for (const bool weighted : {false, true}) {
    const double want = cpu_ops().mse_loss(dt, rows, cols, pred.h(), target.h(), weighted ? w.h() : nullptr, 0.25, dpred.h());
    const double got = cuda_ops().mse_loss(dt, rows, cols, pred.d(), target.d(), weighted ? w.d() : nullptr, 0.25, dpred.d());
    EXPECT_NEAR(got, want, 1e-12 * want) << "mse_loss weighted " << weighted;
    EXPECT_LT(test::rel_error(dpred.from_device(), dpred.host, dpred.host.size()), bound<T>()) << "mse_loss dpred";
  }
}

TEST(CudaOps, ReductionsMatchCpuTwinAndRepeat) {
  SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::fresh_seed("CudaOps.Reductions"));
  reductions<float>(rng);
  reductions<double>(rng);
}

// Three steps of AdamW, SGD (heavy-ball and Nesterov) and the EMA on the flat fp32 buffer.
TEST(CudaOps, OptimizerStepsMatchCpuTwin) {
  SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::fresh_seed("CudaOps.Optimizers"));
  const std::int64_t n = 100003;
  Twin<float> p(randn<float>(rng, std::size_t(n))), m(zeros<float>(n)), v(zeros<float>(n));
  Twin<float> buf(zeros<float>(n)), ema(p.host);
  for (int step = 1; step <= 3; ++step) {
    Twin<float> g(randn<float>(rng, std::size_t(n)));
    cpu_ops().adamw_step(n, p.h(), g.h(), m.h(), v.h(), 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
    cuda_ops().adamw_step(n, p.d(), g.d(), m.d(), v.d(), 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
    cpu_ops().sgd_step(n, p.h(), g.h(), buf.h(), 0.05f, 0.9f, 1e-4f, step == 3);
    cuda_ops().sgd_step(n, p.d(), g.d(), buf.d(), 0.05f, 0.9f, 1e-4f, step == 3);
    cpu_ops().ema_update(n, 0.99f, p.h(), ema.h());
    cuda_ops().ema_update(n, 0.99f, p.d(), ema.d());
  }
  EXPECT_LT(test::rel_error(p.from_device(), p.host, p.host.size()), 1e-6);
  EXPECT_LT(test::rel_error(v.from_device(), v.host, v.host.size()), 1e-6);
  EXPECT_LT(test::rel_error(buf.from_device(), buf.host, buf.host.size()), 1e-6);
  EXPECT_LT(test::rel_error(ema.from_device(), ema.host, ema.host.size()), 1e-6);
}

// An op not yet on the GPU says so by name instead of computing anything.
TEST(CudaOps, MissingOpsSayWhich) {
  SKIP_WITHOUT_GPU();
  try {
    cuda_ops().layer_norm_forward(DType::F32, 1, 1, 1e-6, nullptr, nullptr, nullptr, nullptr);
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("layer_norm_forward is not on the GPU yet"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace carnot
