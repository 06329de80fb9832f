// The sample-quality figure for generated data: the sliced Wasserstein-1 distance from the
// samples to fresh data, against the same distance between independent data draws of equal size.
#pragma once
#include <cstdint>

#include "framework/data/dataset.h"

namespace carnot {

struct SampleQuality {
  double sw1 = 0;              // samples vs fresh data
  double baseline_mean = 0;    // data vs data, mean over `pairs`
  double baseline_stderr = 0;  // its standard error
  int pairs = 0;
  double ratio() const { return sw1 / baseline_mean; }
};

// Fresh data comes from the data's evaluation stream keyed by seed, independent of training data.
SampleQuality sample_quality(const Dataset& data, const float* samples, std::int64_t n,
                             std::uint64_t seed, int pairs = 10, int projections = 128);

}  // namespace carnot
