#include "framework/eval/image_grid.h"

#include <algorithm>
#include <cmath>

namespace carnot {

namespace {
std::uint8_t to_byte(float x) { return std::uint8_t(std::clamp(std::lround((double(x) + 1.0) * 127.5), 0L, 255L)); }
}  // namespace

Image image_grid(const float* images, std::int64_t n, std::int64_t channels, std::int64_t size, std::int64_t cols) {
  const std::int64_t gap = 2, rows = (n + cols - 1) / cols;
  Image img;
  img.width = int(cols * (size + gap) + gap);
  img.height = int(rows * (size + gap) + gap);
  img.rgb.assign(std::size_t(img.width) * std::size_t(img.height) * 3, 24);
  for (std::int64_t k = 0; k < n; ++k) {
    const std::int64_t x0 = gap + (k % cols) * (size + gap), y0 = gap + (k / cols) * (size + gap);
    const float* im = images + k * channels * size * size;
    for (std::int64_t y = 0; y < size; ++y)
      for (std::int64_t x = 0; x < size; ++x)
        for (int c = 0; c < 3; ++c) {
          const std::int64_t ch = channels >= 3 ? c : 0;
          img.rgb[std::size_t(((y0 + y) * img.width + x0 + x) * 3 + c)] = to_byte(im[(ch * size + y) * size + x]);
        }
  }
  return img;
}

std::vector<std::uint8_t> images_to_u8_hwc(const float* images, std::int64_t n, std::int64_t channels, std::int64_t size) {
  std::vector<std::uint8_t> out(std::size_t(n * channels * size * size));
  for (std::int64_t k = 0; k < n; ++k)
    for (std::int64_t c = 0; c < channels; ++c)
      for (std::int64_t p = 0; p < size * size; ++p)
        out[std::size_t((k * size * size + p) * channels + c)] = to_byte(images[(k * channels + c) * size * size + p]);
  return out;
}

}  // namespace carnot
