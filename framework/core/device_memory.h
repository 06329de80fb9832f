// Where Device::kCuda memory comes from and how bytes move to and from it. Buffer and copy_bytes
// go through this, so that the GPU code path can also run on a stand-in: the guarded device
// (framework/debug/guarded_device.h), host memory that only the op table may touch.
#pragma once
#include <cstddef>

namespace carnot {

class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;
  virtual void* allocate(std::size_t bytes) = 0;  // zero-filled
  virtual void release(void* p, std::size_t bytes) = 0;
  // A copy of `bytes`; dst_on_device / src_on_device say whose memory each side is (else the host's).
  virtual void copy(void* dst, bool dst_on_device, const void* src, bool src_on_device, std::size_t bytes) = 0;
};

// The device memory in use: the CUDA runtime's (a build without CUDA refuses every call), or the
// one installed below.
DeviceMemory& device_memory();

// Makes `memory` the device's (null: back to the CUDA runtime). Buffers remember what allocated
// them, so `memory` must outlive the buffers allocated while it was installed.
void install_device_memory(DeviceMemory* memory);

}  // namespace carnot
