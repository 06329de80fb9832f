// The ε objective's inputs computed by the nvcc-compiled kernel (kernels/cuda/q_sample.cu).
// Built only with CUDA. Buffers for max_rows samples are allocated once, here.
#include <stdexcept>
#include <vector>

#include "framework/core/error.h"
#include "framework/diffusion/eps_objective.h"
#include "kernels/cuda/cuda_runtime.h"
#include "kernels/cuda/q_sample.h"

namespace carnot {

namespace {

// Device memory freed on destruction.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t bytes) : p_(cuda::malloc_device(bytes)) {}
  ~DeviceBuffer() { cuda::free_device(p_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <class T> T* as() const { return static_cast<T*>(p_); }

 private:
  void* p_;
};

class CudaEpsObjectiveInputs final : public EpsObjectiveInputs {
 public:
  CudaEpsObjectiveInputs(const NoiseSchedule& s, std::int64_t max_rows, std::int64_t dim)
      : steps_(s.steps()),
        max_rows_(max_rows),
        dim_(dim),
        abar_(sizeof(double) * s.alphas_cumprod.size()),
        x0_(sizeof(float) * max_rows * dim),
        t_(sizeof(float) * max_rows),
        eps_(sizeof(float) * max_rows * dim),
        x_t_(sizeof(float) * max_rows * dim) {
    cuda::copy_to_device(abar_.as<void>(), s.alphas_cumprod.data(), sizeof(double) * s.alphas_cumprod.size());
  }

  void make(std::uint64_t seed, std::uint32_t step, std::uint32_t first, std::int64_t n,
            const float* x0, float* t, float* eps, float* x_t) override {
    CARNOT_CHECK(n <= max_rows_, "batch of ", n, " exceeds the planned ", max_rows_);
    const std::size_t bytes = sizeof(float) * std::size_t(n * dim_);
    try {
      cuda::copy_to_device(x0_.as<void>(), x0, bytes);
      cuda::q_sample_eps(abar_.as<double>(), steps_, seed, step, first, n, dim_, x0_.as<float>(),
                         t_.as<float>(), eps_.as<float>(), x_t_.as<float>());
      cuda::copy_to_host(t, t_.as<float>(), sizeof(float) * std::size_t(n));
      cuda::copy_to_host(eps, eps_.as<float>(), bytes);
      cuda::copy_to_host(x_t, x_t_.as<float>(), bytes);
    } catch (const std::runtime_error& e) {
      throw Error(std::string("CUDA q_sample: ") + e.what());
    }
  }

 private:
  int steps_;
  std::int64_t max_rows_, dim_;
  DeviceBuffer abar_, x0_, t_, eps_, x_t_;
};

}  // namespace

std::unique_ptr<EpsObjectiveInputs> make_cuda_eps_objective_inputs(const NoiseSchedule& schedule,
                                                                   std::int64_t max_rows,
                                                                   std::int64_t dim) {
  return std::make_unique<CudaEpsObjectiveInputs>(schedule, max_rows, dim);
}

}  // namespace carnot
