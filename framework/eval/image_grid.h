// Images in the model's units ([−1, 1]) as what people look at: an RGB grid (1 or 3 channels),
// and 8-bit arrays N×H×W×C for .npy.
#pragma once
#include <cstdint>
#include <vector>

#include "framework/eval/scatter_plot.h"

namespace carnot {

// n images [channels, size, size], `cols` to a row, 2 pixels apart on a dark background; each
// value x ↦ round((x + 1) · 127.5) clamped to 0..255.
Image image_grid(const float* images, std::int64_t n, std::int64_t channels, std::int64_t size, std::int64_t cols);

// The same rounding into N×H×W×C bytes (channels last, as NumPy and PIL have images).
std::vector<std::uint8_t> images_to_u8_hwc(const float* images, std::int64_t n, std::int64_t channels, std::int64_t size);

}  // namespace carnot
