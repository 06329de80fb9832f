// What the network predicts and how its loss is weighted. With x_t = sqrt(ᾱ) x0 + sqrt(1 − ᾱ) ε:
//   eps: ε (DDPM)       x0: x0       v: sqrt(ᾱ) ε − sqrt(1 − ᾱ) x0 (Salimans & Ho 2022)
// Min-SNR-γ (Hang et al. 2023) weights each sample's loss so that, in ε units, it is
// min(SNR, γ)/SNR with SNR = ᾱ/(1 − ᾱ): x0 weight min(SNR, γ), v weight min(SNR, γ)/(SNR + 1).
// Samplers and the likelihood consume ε̂, so a model predicting x0 or v is wrapped to give ε̂.
#pragma once
#include <cstdint>
#include <string>

#include "framework/diffusion/ddpm_sampler.h"

namespace carnot {

enum class Prediction { kEps, kX0, kV };
Prediction prediction_of(const std::string& objective);  // "eps" | "x0" | "v"

// target[n, dim] for the given prediction.
void objective_targets(Prediction p, const NoiseSchedule& s, std::int64_t n, std::int64_t dim,
                       const float* t, const float* x0, const float* eps, float* target);

// weights[n]: Min-SNR-γ when gamma > 0; all 1 otherwise.
void min_snr_weights(Prediction p, const NoiseSchedule& s, std::int64_t n, const float* t,
                     double gamma, float* weights);

// The ε̂ implied by a network that predicts p, for samplers and the bound.
EpsPredictor as_eps_predictor(Prediction p, const NoiseSchedule& s, EpsPredictor raw);

}  // namespace carnot
