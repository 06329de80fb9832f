#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_runtime.h"

namespace carnot::cuda {

int device_count_or_zero() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error of a missing driver
    return 0;
  }
  return n;
}

bool device_usable(int index, std::string* what, std::string* why) {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();
    *why = std::string(err == cudaErrorInsufficientDriver ? "no CUDA driver, or one too old for this build"
                       : err == cudaErrorNoDevice          ? "no CUDA device"
                                                           : "CUDA unavailable") +
           " (" + cudaGetErrorName(err) + ")";
    return false;
  }
  if (index >= n) {
    *why = "GPU " + std::to_string(index) + " requested but " + std::to_string(n) + " visible";
    return false;
  }
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, index) != cudaSuccess) {
    cudaGetLastError();
    *why = "cannot read the properties of GPU " + std::to_string(index);
    return false;
  }
  *what = "GPU " + std::to_string(index) + " (" + p.name + ", sm_" + std::to_string(p.major) +
          std::to_string(p.minor) + ", " + std::to_string(p.totalGlobalMem >> 30) + " GiB)";
  return true;
}

void set_device(int index) { CARNOT_CUDA_CHECK(cudaSetDevice(index)); }

void* malloc_device(std::size_t bytes) {
  void* p = nullptr;
  CARNOT_CUDA_CHECK(cudaMalloc(&p, bytes == 0 ? 1 : bytes));
  return p;
}
void free_device(void* p) { cudaFree(p); }
void copy_to_device(void* dst, const void* src, std::size_t bytes) {
  CARNOT_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}
void copy_to_host(void* dst, const void* src, std::size_t bytes) {
  CARNOT_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}
void copy_device_to_device(void* dst, const void* src, std::size_t bytes) {
  CARNOT_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
}
void zero_device(void* p, std::size_t bytes) { CARNOT_CUDA_CHECK(cudaMemset(p, 0, bytes)); }
void synchronize() { CARNOT_CUDA_CHECK(cudaDeviceSynchronize()); }

std::size_t free_bytes() {
  std::size_t free = 0, total = 0;
  CARNOT_CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return free;
}

void* event_create() {
  cudaEvent_t e;
  CARNOT_CUDA_CHECK(cudaEventCreate(&e));
  return e;
}
void event_destroy(void* event) { cudaEventDestroy(static_cast<cudaEvent_t>(event)); }
void event_record(void* event) { CARNOT_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event))); }
double event_elapsed_ms(void* start, void* stop) {
  CARNOT_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(stop)));
  float ms = 0;
  CARNOT_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start), static_cast<cudaEvent_t>(stop)));
  return double(ms);
}

double time_ms(const std::function<void()>& work, int reps) {
  work();
  cudaEvent_t start, stop;
  CARNOT_CUDA_CHECK(cudaEventCreate(&start));
  CARNOT_CUDA_CHECK(cudaEventCreate(&stop));
  CARNOT_CUDA_CHECK(cudaEventRecord(start));
  for (int i = 0; i < reps; ++i) work();
  CARNOT_CUDA_CHECK(cudaEventRecord(stop));
  CARNOT_CUDA_CHECK(cudaEventSynchronize(stop));
  float ms = 0;
  CARNOT_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return double(ms) / reps;
}

}  // namespace carnot::cuda
