// A micro-batch's float rows with a host side and a device side. The host side is where data
// arrives and where the objectives that run on the CPU write (flow, EDM, targets, the bound); the
// device side is what the op table reads. On the CPU the two are the same memory, and upload and
// download do nothing, so one trainer serves both.
#pragma once
#include <cstdint>

#include "framework/core/tensor.h"

namespace carnot {

class Staged {
 public:
  Staged() = default;
  Staged(std::int64_t rows, std::int64_t cols, Device device)
      : host_(DType::F32, Shape{rows, cols}),
        device_(device == Device::kCpu ? Buffer() : Buffer(DType::F32, Shape{rows, cols}, device)) {}

  float* host() const { return host_.data<float>(); }
  float* dev() const { return dev_tensor().data<float>(); }
  // The first `rows` rows on the device side.
  Tensor dev_rows(std::int64_t rows) const { return dev_tensor().rows(0, rows); }

  void upload(std::int64_t rows) const { move(rows, true); }
  void download(std::int64_t rows) const { move(rows, false); }

 private:
  Tensor dev_tensor() const { return separate() ? device_.tensor() : host_.tensor(); }
  bool separate() const { return device_.tensor().raw() != nullptr; }
  void move(std::int64_t rows, bool up) const {
    if (!separate() || rows == 0) return;
    const Tensor h = host_.tensor().rows(0, rows), d = device_.tensor().rows(0, rows);
    up ? copy_bytes(d, h) : copy_bytes(h, d);
  }

  Buffer host_, device_;
};

}  // namespace carnot
