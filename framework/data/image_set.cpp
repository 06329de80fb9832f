#include "framework/data/image_set.h"

#include <algorithm>
#include <cstring>

#include "framework/core/error.h"
#include "framework/io/idx.h"
#include "framework/io/npy.h"

namespace carnot {

void ImageSet::image(std::int64_t i, std::int64_t size, bool flip, float* out) const {
  const std::int64_t S = size > 0 ? size : std::max(height, width);
  CARNOT_CHECK(S >= height && S >= width, "data.pad_to ", S, " is smaller than the images (", height, "×", width, ")");
  const std::int64_t top = (S - height) / 2, left = (S - width) / 2;
  std::fill(out, out + channels * S * S, -1.0f);
  const std::int64_t base = i * image_elements();
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t r = 0; r < height; ++r)
      for (std::int64_t q = 0; q < width; ++q) {
        const std::int64_t src = base + (c * height + r) * width + (flip ? width - 1 - q : q);
        const float v = eight_bit() ? float(u8[std::size_t(src)]) * (2.0f / 255.0f) - 1.0f : f32[std::size_t(src)];
        out[(c * S + top + r) * S + left + q] = v;
      }
}

namespace {

void set_labels(ImageSet& s, std::vector<std::int64_t> labels, const std::string& path) {
  if (std::int64_t(labels.size()) != s.n)
    throw Error(str_cat("'", path, "' holds ", labels.size(), " labels for ", s.n, " images"));
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] < 0 || labels[i] > 1000000)
      throw Error(str_cat("'", path, "': label ", labels[i], " of image ", i, " is not a class index"));
  s.num_classes = labels.empty() ? 0 : 1 + *std::max_element(labels.begin(), labels.end());
  s.labels = std::move(labels);
}

}  // namespace

ImageSet load_idx_images(const std::string& images, const std::string& labels) {
  IdxArray a = read_idx(images);
  if (a.shape.size() != 3)
    throw Error(str_cat("'", images, "' has ", a.shape.size(), " dimensions; IDX images are N×H×W (3)"));
  ImageSet s;
  s.n = a.shape[0], s.height = a.shape[1], s.width = a.shape[2];
  s.u8 = std::move(a.data);
  if (!labels.empty()) {
    IdxArray l = read_idx(labels);
    if (l.shape.size() != 1)
      throw Error(str_cat("'", labels, "' has ", l.shape.size(), " dimensions; IDX labels are N (1)"));
    set_labels(s, std::vector<std::int64_t>(l.data.begin(), l.data.end()), labels);
  }
  return s;
}

ImageSet load_npy_images(const std::string& images, const std::string& labels) {
  const NpyArray a = read_npy(images);
  if (a.int64) throw Error("'" + images + "' holds int64 values; images must be uint8, float32 or float64");
  if (a.shape.size() != 3 && a.shape.size() != 4)
    throw Error(str_cat("'", images, "' has ", a.shape.size(), " dimensions; images are N×H×W or N×H×W×C"));
  ImageSet s;
  s.n = a.shape[0], s.height = a.shape[1], s.width = a.shape[2], s.channels = a.shape.size() == 4 ? a.shape[3] : 1;
  const std::int64_t per = s.image_elements(), total = s.n * per;
  // H×W×C per image → C×H×W.
  auto chw = [&](std::int64_t i) {
    const std::int64_t img = i / per, rest = i % per, c = rest / (s.height * s.width), hw = rest % (s.height * s.width);
    return img * per + hw * s.channels + c;
  };
  if (a.uint8) {
    s.u8.resize(std::size_t(total));
    const auto* src = reinterpret_cast<const std::uint8_t*>(a.bytes.data());
    for (std::int64_t i = 0; i < total; ++i) s.u8[std::size_t(i)] = src[chw(i)];
  } else {
    s.f32.resize(std::size_t(total));
    for (std::int64_t i = 0; i < total; ++i) {
      const std::int64_t k = chw(i);
      double v;
      if (a.dtype == DType::F32) {
        float f;
        std::memcpy(&f, a.bytes.data() + k * 4, 4);
        v = f;
      } else {
        std::memcpy(&v, a.bytes.data() + k * 8, 8);
      }
      s.f32[std::size_t(i)] = float(v);
    }
  }
  if (!labels.empty()) {
    const NpyArray l = read_npy(labels);
    if (l.shape.size() != 1 || (!l.uint8 && !l.int64))
      throw Error("'" + labels + "': labels must be a 1-dimensional uint8 or int64 array");
    std::vector<std::int64_t> v(std::size_t(l.shape[0]));
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (l.uint8)
        v[i] = std::uint8_t(l.bytes[i]);
      else
        std::memcpy(&v[i], l.bytes.data() + i * 8, 8);
    }
    set_labels(s, std::move(v), labels);
  }
  return s;
}

ImageSet load_fashion_mnist(const std::string& folder, const std::string& split) {
  if (split != "train" && split != "test") throw UsageError("Fashion-MNIST split '" + split + "' is not train or test");
  const std::string prefix = folder + "/" + (split == "train" ? "train" : "t10k");
  return load_idx_images(prefix + "-images-idx3-ubyte.gz", prefix + "-labels-idx1-ubyte.gz");
}

}  // namespace carnot
