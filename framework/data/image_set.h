// Image data held in memory: 8-bit pixels (Fashion-MNIST, MNIST-format IDX, uint8 .npy) or float
// pixels already in the model's units (float .npy: [−1, 1] images or latents), one image after
// another in C×H×W order, with labels when the data has them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace carnot {

struct ImageSet {
  std::int64_t n = 0, channels = 1, height = 0, width = 0;
  std::vector<std::uint8_t> u8;      // 8-bit pixels, or empty
  std::vector<float> f32;            // float pixels, or empty
  std::vector<std::int64_t> labels;  // one per image, or empty
  std::int64_t num_classes = 0;      // 1 + the largest label

  bool eight_bit() const { return !u8.empty(); }
  std::int64_t image_elements() const { return channels * height * width; }
  // Image i in model units (8-bit: 2x/255 − 1), centred in a size × size canvas of −1 (size 0:
  // the image's own size), mirrored left-right when flip: out[channels, size, size].
  void image(std::int64_t i, std::int64_t size, bool flip, float* out) const;
};

// MNIST-format IDX files: images N×H×W (one channel) and, unless labels is empty, labels N.
// Throws naming the file: unreadable, not IDX, wrong type, truncated, or counts that disagree.
ImageSet load_idx_images(const std::string& images, const std::string& labels);
// NumPy: images N×H×W or N×H×W×C (uint8, or float32/float64 as the model's units), labels N
// (uint8 or int64) unless labels is empty.
ImageSet load_npy_images(const std::string& images, const std::string& labels);
// Fashion-MNIST's train or test split from a folder of its four gzip IDX files (Debian's
// dataset-fashion-mnist installs them in /usr/share/datasets/fashion-mnist).
ImageSet load_fashion_mnist(const std::string& folder, const std::string& split);

}  // namespace carnot
