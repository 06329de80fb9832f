// Discrete-time noise schedules: t = 0 .. T-1, x_t = sqrt(ᾱ_t) x_0 + sqrt(1 − ᾱ_t) ε.
#pragma once
#include <vector>

#include "framework/io/job_spec.h"

namespace carnot {

struct NoiseSchedule {
  std::vector<double> betas;           // β_t
  std::vector<double> alphas_cumprod;  // ᾱ_t = Π_{s ≤ t} (1 − β_s)
  int steps() const { return int(betas.size()); }

  // DDPM's linear schedule, β from 1e-4 to 0.02 at T = 1000, scaled by 1000/T for other T
  // (as improved-diffusion does) so the total noise stays comparable.
  static NoiseSchedule linear(int steps);
  // Improved DDPM's cosine schedule (Nichol & Dhariwal 2021): ᾱ(t) = f(t)/f(0),
  // f(t) = cos²((t/T + s)/(1 + s) · π/2), s = 0.008, β clipped at 0.999.
  static NoiseSchedule cosine(int steps);
  // Sohl-Dickstein et al. 2015 (their released code, unlearned): β_t = m_t + b_t (1 − m_t − 1e-5),
  // b = 1/linspace(T, 2, T), m_t = 1e-6, plus step1_beta at t = 1.
  static NoiseSchedule sohl2015(int steps, double step1_beta);
  // Linear in log SNR (Kingma et al. 2021, VDM's fixed schedule): λ_t = ln(ᾱ_t / (1 − ᾱ_t)) falls
  // linearly from log_snr_max at t = 0 to log_snr_min at t = T − 1, so every step removes the same
  // fraction of signal-to-noise; with a high log_snr_max the first steps are tiny, which a thin
  // manifold's likelihood needs.
  static NoiseSchedule log_snr(int steps, double log_snr_max, double log_snr_min);
};

// The spec's schedule; empty (no steps) for schedules flow and edm, whose time is continuous.
NoiseSchedule make_schedule(const DiffusionSpec& spec);

}  // namespace carnot
