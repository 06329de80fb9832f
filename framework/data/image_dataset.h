// Image data sets for training, keyed like the point data sets so that every rank sees the same
// global stream at any world size:
//   FiniteImages: a loaded ImageSet. Global sample g = step · B + i is position g mod N of epoch
//     g div N, whose order is a Fisher-Yates shuffle drawn from Philox (seed, epoch, ·, kShuffle);
//     a flip (data.flip) is drawn from (seed, step, g, kFlip); padding centres the image.
//   DeadLeaves: Sohl-Dickstein et al.'s dead-leaves images, drawn afresh for every sample from
//     (seed, step, i, kData): occluding uniform-grey disks with radius density ∝ r⁻³ on
//     [1, size/2] pixels, centres uniform over the image, painted front to back until every pixel
//     is covered.
#pragma once
#include <memory>

#include "framework/data/dataset.h"
#include "framework/data/image_set.h"

namespace carnot {

std::unique_ptr<Dataset> make_image_dataset(const DataSpec& spec, std::int64_t global_batch);

// One dead-leaves image (size × size, values in [−1, 1]) for key (seed, step, index).
void dead_leaves_image(std::uint64_t seed, std::uint32_t step, std::uint32_t index, std::int64_t size, float* out);

}  // namespace carnot
