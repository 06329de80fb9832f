#include "framework/data/image_dataset.h"

#include <cmath>
#include <mutex>
#include <numeric>
#include <vector>

#include "framework/core/error.h"
#include "framework/core/random.h"

namespace carnot {

namespace {

class FiniteImages final : public Dataset {
 public:
  FiniteImages(ImageSet set, const DataSpec& spec, std::int64_t global_batch)
      : set_(std::move(set)), side_(spec.side()), flip_(spec.flip), batch_(global_batch), classes_(spec.num_classes) {
    CARNOT_CHECK(global_batch > 0, "image data needs the global batch");
  }
  std::int64_t dim() const override { return set_.channels * side_ * side_; }
  double bin_half_width() const override { return set_.eight_bit() ? 1.0 / 255.0 : 0.0; }
  std::int64_t num_classes() const override { return set_.labels.empty() ? 0 : classes_; }

  void fill(std::uint64_t seed, std::uint32_t step, std::uint32_t first, std::int64_t n, RngStream,
            float* out) const override {
    for (std::int64_t j = 0; j < n; ++j) {
      const std::uint32_t i = first + std::uint32_t(j);
      const std::int64_t g = std::int64_t(step) * batch_ + i;
      const bool flip = flip_ && (philox_draw(seed, step, i, RngStream::kFlip, 0).v[0] & 1u);
      set_.image(index_of(seed, g), side_, flip, out + j * dim());
    }
  }
  void fill_labels(std::uint64_t seed, std::uint32_t step, std::uint32_t first, std::int64_t n,
                   std::int64_t* out) const override {
    for (std::int64_t j = 0; j < n; ++j)
      out[j] = set_.labels[std::size_t(index_of(seed, std::int64_t(step) * batch_ + first + j))];
  }

 private:
  // Image at global sample g: its epoch's shuffle, made once per epoch.
  std::int64_t index_of(std::uint64_t seed, std::int64_t g) const {
    const std::int64_t epoch = g / set_.n;
    std::lock_guard<std::mutex> lock(mutex_);
    if (epoch != epoch_ || seed != seed_) {
      order_.resize(std::size_t(set_.n));
      std::iota(order_.begin(), order_.end(), 0);
      for (std::int64_t k = set_.n - 1; k > 0; --k) {
        const Philox4x32 r = philox_draw(seed, std::uint32_t(epoch), std::uint32_t(k), RngStream::kShuffle, 0);
        std::swap(order_[std::size_t(k)], order_[uniform_below(r.v[0], std::uint32_t(k + 1))]);
      }
      epoch_ = epoch, seed_ = seed;
    }
    return order_[std::size_t(g % set_.n)];
  }

  ImageSet set_;
  std::int64_t side_;
  bool flip_;
  std::int64_t batch_, classes_;
  mutable std::mutex mutex_;
  mutable std::vector<std::int64_t> order_;
  mutable std::int64_t epoch_ = -1;
  mutable std::uint64_t seed_ = 0;
};

class DeadLeaves final : public Dataset {
 public:
  DeadLeaves(std::int64_t size, std::int64_t side) : size_(size), side_(side) {}
  std::int64_t dim() const override { return side_ * side_; }
  void fill(std::uint64_t seed, std::uint32_t step, std::uint32_t first, std::int64_t n, RngStream,
            float* out) const override {
    std::vector<float> img(std::size_t(size_ * size_));
    const std::int64_t off = (side_ - size_) / 2;
    for (std::int64_t j = 0; j < n; ++j) {
      dead_leaves_image(seed, step, first + std::uint32_t(j), size_, img.data());
      float* o = out + j * dim();
      std::fill(o, o + dim(), -1.0f);
      for (std::int64_t r = 0; r < size_; ++r)
        for (std::int64_t q = 0; q < size_; ++q) o[(off + r) * side_ + off + q] = img[std::size_t(r * size_ + q)];
    }
  }

 private:
  std::int64_t size_, side_;
};

}  // namespace

void dead_leaves_image(std::uint64_t seed, std::uint32_t step, std::uint32_t index, std::int64_t size, float* out) {
  std::vector<char> covered(std::size_t(size * size), 0);
  std::int64_t left = size * size;
  const double r_min = 1.0, r_max = std::max(1.0, double(size) / 2);
  const double a = 1.0 / (r_min * r_min), b = 1.0 / (r_max * r_max);
  // Words of Philox block k: disk k's radius, centre x, centre y, grey.
  for (std::uint32_t k = 0; left > 0; ++k) {
    const Philox4x32 w = philox_draw(seed, step, index, RngStream::kData, k);
    float grey = float(2.0 * uniform_open01(w.v[3]) - 1.0);
    if (k >= 100000) {  // a pathological tail: the rest is background
      for (std::int64_t p = 0; p < size * size; ++p)
        if (!covered[std::size_t(p)]) out[p] = grey;
      break;
    }
    // p(r) ∝ r⁻³ on [r_min, r_max]: the inverse of its CDF (a − r⁻²) / (a − b).
    const double r = 1.0 / std::sqrt(a - uniform_open01(w.v[0]) * (a - b));
    const double cx = uniform_open01(w.v[1]) * double(size), cy = uniform_open01(w.v[2]) * double(size);
    const std::int64_t y0 = std::max<std::int64_t>(0, std::int64_t(std::floor(cy - r))),
                       y1 = std::min<std::int64_t>(size - 1, std::int64_t(std::ceil(cy + r)));
    const std::int64_t x0 = std::max<std::int64_t>(0, std::int64_t(std::floor(cx - r))),
                       x1 = std::min<std::int64_t>(size - 1, std::int64_t(std::ceil(cx + r)));
    for (std::int64_t y = y0; y <= y1; ++y)
      for (std::int64_t x = x0; x <= x1; ++x) {
        const double dx = double(x) + 0.5 - cx, dy = double(y) + 0.5 - cy;
        const std::size_t p = std::size_t(y * size + x);
        if (dx * dx + dy * dy <= r * r && !covered[p]) {  // nearer disks were painted first
          covered[p] = 1;
          out[p] = grey;
          --left;
        }
      }
  }
}

std::unique_ptr<Dataset> make_image_dataset(const DataSpec& spec, std::int64_t global_batch) {
  if (spec.kind == "dead_leaves") return std::make_unique<DeadLeaves>(spec.image_size, spec.side());
  ImageSet set = spec.kind == "fashion_mnist" ? load_fashion_mnist(spec.path, spec.split)
                 : spec.kind == "idx"         ? load_idx_images(spec.path, spec.labels)
                                              : load_npy_images(spec.path, spec.labels);
  const std::string what = "data.path '" + spec.path + "'";
  if (set.height != spec.image_size || set.width != spec.image_size || set.channels != spec.channels)
    throw UsageError(str_cat(what, " holds ", set.channels, "×", set.height, "×", set.width, " images; the spec says ",
                             spec.channels, "×", spec.image_size, "×", spec.image_size, " (data.channels, data.image_size)"));
  if (!set.labels.empty() && set.num_classes > spec.num_classes)
    throw UsageError(str_cat("data.labels '", spec.labels, "' has label ", set.num_classes - 1,
                             ", but data.num_classes is ", spec.num_classes));
  if (set.n == 0) throw UsageError(what + " holds no images");
  return std::make_unique<FiniteImages>(std::move(set), spec, global_batch);
}

}  // namespace carnot
