// Tensor: a non-owning view (pointer, dtype, shape, device). Buffer: the memory a view points into.
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>

#include "framework/core/error.h"
#include "kernels/dtype.h"
#include "kernels/ops.h"

namespace carnot {

class DeviceMemory;
enum class Device : std::uint8_t { kCpu, kCuda };

// Up to four dimensions, row-major.
class Shape {
 public:
  static constexpr int kMaxRank = 4;
  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims);

  int rank() const { return rank_; }
  std::int64_t operator[](int i) const { return dims_[i]; }
  std::int64_t numel() const;
  bool operator==(const Shape& o) const;
  std::string str() const;  // "[2, 128]"

 private:
  std::array<std::int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

class Tensor {
 public:
  Tensor() = default;
  Tensor(void* data, DType dtype, Shape shape, Device device = Device::kCpu)
      : data_(data), dtype_(dtype), shape_(shape), device_(device) {}

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  Device device() const { return device_; }
  std::int64_t numel() const { return shape_.numel(); }
  std::int64_t dim(int i) const { return shape_[i]; }
  std::size_t bytes() const { return std::size_t(numel()) * dtype_size(dtype_); }
  void* raw() const { return data_; }

  // Typed pointer; throws if T does not match the dtype.
  template <class T> T* data() const {
    CARNOT_CHECK(dtype_of<T>() == dtype_, "tensor holds ", dtype_name(dtype_), ", asked for ",
                 dtype_name(dtype_of<T>()));
    return static_cast<T*>(data_);
  }

  // Rows [begin, begin + count) along the first dimension.
  Tensor rows(std::int64_t begin, std::int64_t count) const;
  // The same memory under another shape with the same number of elements.
  Tensor reshape(Shape shape) const;

 private:
  void* data_ = nullptr;
  DType dtype_ = DType::F32;
  Shape shape_;
  Device device_ = Device::kCpu;
};

// Owns zero-filled memory on the host (64-byte aligned) or on the device (kCuda: the current GPU,
// through device_memory(); a build without CUDA refuses). Allocated when a model or trainer is
// built, never inside the step loop.
class Buffer {
 public:
  Buffer() = default;
  Buffer(DType dtype, Shape shape, Device device = Device::kCpu);
  Tensor tensor() const { return Tensor(mem_.get(), dtype_, shape_, device_); }
  std::int64_t numel() const { return shape_.numel(); }
  Device device() const { return device_; }
  template <class T> T* data() const { return tensor().data<T>(); }

 private:
  struct Free {
    Free() {}  // (not = default: the defaults below would make it unusable inside Buffer)
    Free(DeviceMemory* memory, std::size_t n) : device_memory(memory), bytes(n) {}
    DeviceMemory* device_memory = nullptr;  // what allocated it (null: the host heap)
    std::size_t bytes = 0;
    void operator()(void* p) const;
  };
  std::unique_ptr<void, Free> mem_;
  DType dtype_ = DType::F32;
  Shape shape_;
  Device device_ = Device::kCpu;
};

// Where an op table's buffers live: the device for a table that runs there (Ops::on_gpu).
inline Device device_of(const Ops& ops) { return ops.on_gpu() ? Device::kCuda : Device::kCpu; }

// Copies bytes between memory on any devices (host to host, host to GPU, GPU to host or GPU).
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes);
void copy_bytes(const Tensor& dst, const Tensor& src);

}  // namespace carnot
