// DataPrefetch: the next micro-batch's data (and labels) filled on a background thread while the
// current one computes. Data are a pure function of (seed, step, global sample index), so what is
// fetched ahead is exactly what would be fetched in place: prefetching changes no result. Used for
// image data, whose decoding and padding are worth hiding; point data fill in place.
#pragma once
#include <cstdint>
#include <future>
#include <vector>

#include "framework/data/dataset.h"

namespace carnot {

class DataPrefetch {
 public:
  // rows: the largest micro-batch; enabled false fills every piece in place.
  DataPrefetch(const Dataset& data, std::uint64_t seed, std::int64_t rows, bool enabled);
  ~DataPrefetch();  // waits for a fill in flight
  DataPrefetch(const DataPrefetch&) = delete;
  DataPrefetch& operator=(const DataPrefetch&) = delete;

  // Samples [first, first + n) of `step` into x0[n, dim] and, for labelled data, labels[n]: from
  // the prefetched buffers when they hold that piece, else filled now. Rethrows a fill's error.
  void get(std::uint32_t step, std::uint32_t first, std::int64_t n, float* x0, std::int64_t* labels);
  // Starts filling that piece in the background (a no-op when disabled or n is 0).
  void start(std::uint32_t step, std::uint32_t first, std::int64_t n);
  bool enabled() const { return enabled_; }

 private:
  void fill(std::uint32_t step, std::uint32_t first, std::int64_t n, float* x0, std::int64_t* labels) const;
  const Dataset& data_;
  std::uint64_t seed_;
  bool enabled_;
  std::vector<float> x_;
  std::vector<std::int64_t> labels_;
  std::future<void> pending_;
  std::uint32_t step_ = 0, first_ = 0;
  std::int64_t n_ = -1;
};

}  // namespace carnot
