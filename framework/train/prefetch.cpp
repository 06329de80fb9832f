#include "framework/train/prefetch.h"

#include <algorithm>

namespace carnot {

DataPrefetch::DataPrefetch(const Dataset& data, std::uint64_t seed, std::int64_t rows, bool enabled)
    : data_(data), seed_(seed), enabled_(enabled) {
  if (!enabled_) return;
  x_.resize(std::size_t(rows * data.dim()));
  if (data.num_classes() > 0) labels_.resize(std::size_t(rows));
}

DataPrefetch::~DataPrefetch() {
  if (pending_.valid()) pending_.wait();
}

void DataPrefetch::fill(std::uint32_t step, std::uint32_t first, std::int64_t n, float* x0,
                        std::int64_t* labels) const {
  data_.fill(seed_, step, first, n, RngStream::kData, x0);
  if (labels) data_.fill_labels(seed_, step, first, n, labels);
}

void DataPrefetch::get(std::uint32_t step, std::uint32_t first, std::int64_t n, float* x0, std::int64_t* labels) {
  if (pending_.valid()) {
    pending_.get();  // rethrows the fill's error, if any
    if (step == step_ && first == first_ && n == n_) {
      std::copy(x_.begin(), x_.begin() + n * data_.dim(), x0);
      if (labels) std::copy(labels_.begin(), labels_.begin() + n, labels);
      return;
    }
  }
  fill(step, first, n, x0, labels);
}

void DataPrefetch::start(std::uint32_t step, std::uint32_t first, std::int64_t n) {
  if (!enabled_ || n == 0) return;
  if (pending_.valid()) pending_.get();
  step_ = step, first_ = first, n_ = n;
  pending_ = std::async(std::launch::async, [this, step, first, n] {
    fill(step, first, n, x_.data(), labels_.empty() ? nullptr : labels_.data());
  });
}

}  // namespace carnot
