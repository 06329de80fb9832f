// DDPM's discretised decoder for 8-bit data scaled to [−1, 1] (Ho et al. 2020, eq. 13): the decoder
// Gaussian N(μ, σ²) integrated over the pixel's bin [x − h, x + h], with h = 1/255 and the end bins
// open to ±∞, so that the likelihood is a probability and bits_per_dim = −log₂ P / D.
#pragma once

namespace carnot {

constexpr double kEightBitHalfWidth = 1.0 / 255.0;

// −ln P(bin of x) under N(mu, sigma²), bins of half-width h on [−1, 1]; accurate in both tails.
double discretized_gaussian_nll(double x, double mu, double sigma, double h = kEightBitHalfWidth);

}  // namespace carnot
