// The diagnostics line of metrics.jsonl, from what one step measured per group
// (diagnostic_groups.h). With η_eff the step size (SGD: η/(1 − μ), heavy ball's step at
// stationarity; using it in the entropic terms under momentum is an approximation) and B the
// global batch:
//   temperature              η_eff/B (SGD only: Adam's is not defined)
//   entropic_discretization  (η_eff/4)|G|²      the finite step's modified-loss term
//   entropic_noise           (η_eff/4B) tr Σ    the noise's; entropic_ratio = noise/discretization
//   weight_norm/T, grad_norm/T            per parameter tensor
//   charge/P   = ‖u‖² − ‖w‖²              per rescaling pair (conserved by gradient flow)
//   balance/P  = ‖g_u‖²/‖g_w‖²            the mini-batch gradients' balance (→ 1, Ziyin et al. 2025)
//   imbalance_g2/P    = |G_u|² − |G_w|²   ‖g_u‖² − ‖g_w‖² split by the per-group noise estimates
//   imbalance_noise/P = (tr Σ_u − tr Σ_w)/B  (unbiased each; their sum is exactly the measured
//                                          difference): the true gradient's part (the step size's
//                                          force, ×η/4) and the noise's (×η/4)
//   wd_equilibrium/S = η_eff‖g‖²/(2γ‖θ‖²)  per scale-invariant group under SGD with weight decay γ
//                                          (→ 1 at equilibrium)
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/diagnostics/diagnostic_groups.h"
#include "framework/diagnostics/noise_scale.h"

namespace carnot {

// Per group of DiagnosticGroups, at one step.
struct GroupMeasurements {
  std::vector<double> weight_sq;  // ‖θ‖²
  std::vector<double> grad_sq;    // ‖G_B‖²: the reduced mean gradient over B, before clipping
  std::vector<double> small_sq;   // the mean over the small batches of ‖G_b‖² (empty: no noise estimate)
  std::vector<std::int64_t> small_batches;  // the small batches' sizes (ranks' slices or micro-batches)
};

struct ThermoSettings {
  std::int64_t global_batch = 0;
  std::optional<double> effective_lr;  // SGD's η/(1 − μ); none for Adam
  double weight_decay = 0;
};

struct DiagnosticsReport {
  nlohmann::json metrics;          // without "step"
  std::vector<std::string> notes;  // what is not defined in this run and why (to log once)
};

// whole: the whole model's noise estimate (none where unavailable); b_simple its smoothed ratio.
DiagnosticsReport diagnostics_report(const DiagnosticGroups& groups, const ParameterStore& store,
                                     const GroupMeasurements& m, const std::optional<NoiseScale>& whole,
                                     double b_simple, const ThermoSettings& settings);

}  // namespace carnot
