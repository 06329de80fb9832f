#include "framework/core/tensor.h"

#include <cstdlib>
#include <cstring>

#include "framework/core/device_memory.h"

namespace carnot {

Shape::Shape(std::initializer_list<std::int64_t> dims) {
  CARNOT_CHECK(int(dims.size()) <= kMaxRank, "shape has ", dims.size(), " dimensions, at most ",
               kMaxRank, " are supported");
  for (std::int64_t d : dims) {
    CARNOT_CHECK(d >= 0, "negative dimension ", d);
    dims_[rank_++] = d;
  }
}

std::int64_t Shape::numel() const {
  std::int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= dims_[i];
  return n;
}

bool Shape::operator==(const Shape& o) const {
  if (rank_ != o.rank_) return false;
  for (int i = 0; i < rank_; ++i)
    if (dims_[i] != o.dims_[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank_; ++i) s += (i ? ", " : "") + std::to_string(dims_[i]);
  return s + "]";
}

Tensor Tensor::rows(std::int64_t begin, std::int64_t count) const {
  CARNOT_CHECK(shape_.rank() >= 1 && begin >= 0 && count >= 0 && begin + count <= shape_[0],
               "rows [", begin, ", ", begin + count, ") out of range for shape ", shape_.str());
  const std::int64_t row_elems = shape_[0] ? numel() / shape_[0] : 0;
  Shape s = shape_;
  switch (shape_.rank()) {
    case 1: s = Shape{count}; break;
    case 2: s = Shape{count, shape_[1]}; break;
    case 3: s = Shape{count, shape_[1], shape_[2]}; break;
    default: s = Shape{count, shape_[1], shape_[2], shape_[3]}; break;
  }
  char* base = static_cast<char*>(data_) + begin * row_elems * std::int64_t(dtype_size(dtype_));
  return Tensor(base, dtype_, s, device_);
}

Tensor Tensor::reshape(Shape shape) const {
  CARNOT_CHECK(shape.numel() == numel(), "cannot view ", shape_.str(), " as ", shape.str());
  return Tensor(data_, dtype_, shape, device_);
}

Buffer::Buffer(DType dtype, Shape shape, Device device)
    : mem_(nullptr, Free{}), dtype_(dtype), shape_(shape), device_(device) {
  const std::size_t bytes = std::size_t(shape.numel()) * dtype_size(dtype);
  const std::size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded == 0) return;
  if (device == Device::kCuda) {
    DeviceMemory& memory = device_memory();
    mem_ = std::unique_ptr<void, Free>(memory.allocate(rounded), Free{&memory, rounded});
    return;
  }
  void* p = std::aligned_alloc(64, rounded);
  CARNOT_CHECK(p != nullptr, "out of host memory allocating ", rounded, " bytes");
  std::memset(p, 0, rounded);
  mem_.reset(p);
}

void Buffer::Free::operator()(void* p) const {
  if (device_memory) return device_memory->release(p, bytes);
  std::free(p);
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes) {
  if (bytes == 0) return;
  if (dst_device == Device::kCpu && src_device == Device::kCpu) {
    std::memcpy(dst, src, bytes);
    return;
  }
  device_memory().copy(dst, dst_device == Device::kCuda, src, src_device == Device::kCuda, bytes);
}

void copy_bytes(const Tensor& dst, const Tensor& src) {
  CARNOT_CHECK(dst.bytes() == src.bytes(), "copying ", src.bytes(), " bytes into ", dst.bytes());
  copy_bytes(dst.raw(), dst.device(), src.raw(), src.device(), dst.bytes());
}

}  // namespace carnot
