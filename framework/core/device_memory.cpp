#include "framework/core/device_memory.h"

#include <atomic>

#include "framework/core/error.h"

#if CARNOT_WITH_CUDA
#include "kernels/cuda/cuda_runtime.h"
#endif

namespace carnot {

namespace {

#if CARNOT_WITH_CUDA
class CudaMemory final : public DeviceMemory {
 public:
  void* allocate(std::size_t bytes) override {
    void* p = cuda::malloc_device(bytes);
    cuda::zero_device(p, bytes);
    return p;
  }
  void release(void* p, std::size_t) override { cuda::free_device(p); }
  void copy(void* dst, bool dst_on_device, const void* src, bool src_on_device, std::size_t bytes) override {
    if (!src_on_device) return cuda::copy_to_device(dst, src, bytes);
    if (!dst_on_device) return cuda::copy_to_host(dst, src, bytes);
    cuda::copy_device_to_device(dst, src, bytes);
  }
};
#else
class NoDeviceMemory final : public DeviceMemory {
 public:
  void* allocate(std::size_t) override { refuse("a GPU buffer"); }
  void release(void*, std::size_t) override {}
  void copy(void*, bool, const void*, bool, std::size_t) override { refuse("a GPU copy"); }

 private:
  [[noreturn]] static void refuse(const char* what) {
    throw Error(std::string(what) + " was asked of a build without CUDA (configure with -DCARNOT_CUDA=ON)");
  }
};
#endif

DeviceMemory& runtime_memory() {
#if CARNOT_WITH_CUDA
  static CudaMemory memory;
#else
  static NoDeviceMemory memory;
#endif
  return memory;
}

std::atomic<DeviceMemory*> installed{nullptr};

}  // namespace

DeviceMemory& device_memory() {
  DeviceMemory* m = installed.load();
  return m ? *m : runtime_memory();
}

void install_device_memory(DeviceMemory* memory) { installed.store(memory); }

}  // namespace carnot
