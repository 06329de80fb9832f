// A data source that draws point i of step s from Philox keyed by (seed, s, i, stream), so every
// rank reads the same global stream whatever the world size.
#pragma once
#include <cstdint>
#include <memory>

#include "framework/core/philox.h"
#include "framework/io/job_spec.h"

namespace carnot {

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::int64_t dim() const = 0;
  // Points [first, first + n) of `step` into out[n, dim()], standardised units.
  virtual void fill(std::uint64_t seed, std::uint32_t step, std::uint32_t first, std::int64_t n,
                    RngStream stream, float* out) const = 0;
  // Half the spacing of discrete data's levels (1/255 for 8-bit data on [−1, 1]); 0 if continuous.
  virtual double bin_half_width() const { return 0; }
  // Classes of labelled data (0: unlabelled), and the labels of the points fill() gives.
  virtual std::int64_t num_classes() const { return 0; }
  virtual void fill_labels(std::uint64_t /*seed*/, std::uint32_t /*step*/, std::uint32_t /*first*/, std::int64_t /*n*/,
                           std::int64_t* /*out*/) const {}
};

// global_batch: the samples per step, which finite data sets (images) need to find a sample's
// place in its epoch (global index step · B + i).
std::unique_ptr<Dataset> make_dataset(const DataSpec& spec, std::int64_t global_batch = 1);
// The data's standard deviation, the root mean square over dimensions (EDM's σ_data default):
// 1 for the standardised Swiss roll.
double data_std(const DataSpec& spec);

}  // namespace carnot
