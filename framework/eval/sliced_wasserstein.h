// Sliced Wasserstein-1 distance between two equal-sized point sets: the mean over fixed unit
// directions of the 1-D W1 between the projections (sorted, matched in order).
#pragma once
#include <cstdint>
#include <vector>

namespace carnot {

// `projections` unit directions in R^dim, drawn once from a fixed Philox key so every caller and
// every run uses the same ones.
std::vector<double> fixed_directions(std::int64_t dim, int projections);

double sliced_wasserstein1(const float* a, const float* b, std::int64_t n, std::int64_t dim,
                           const std::vector<double>& directions);

}  // namespace carnot
