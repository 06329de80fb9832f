#include "framework/diagnostics/report.h"

#include <cmath>

#include "framework/core/error.h"

namespace carnot {

DiagnosticsReport diagnostics_report(const DiagnosticGroups& groups, const ParameterStore& store,
                                     const GroupMeasurements& m, const std::optional<NoiseScale>& whole,
                                     double b_simple, const ThermoSettings& settings) {
  CARNOT_CHECK(m.weight_sq.size() == groups.size() && m.grad_sq.size() == groups.size(),
               "diagnostics: measurements for ", m.weight_sq.size(), " groups, expected ", groups.size());
  const bool noisy = !m.small_sq.empty();
  const double B = double(settings.global_batch);
  DiagnosticsReport r;
  nlohmann::json& out = r.metrics;
  out = nlohmann::json::object();
  if (whole) {
    out["gns_g2"] = whole->g2;
    out["gns_trace_sigma"] = whole->trace_sigma;
    out["gns_b_simple"] = b_simple;
  } else {
    r.notes.push_back("no gradient noise scale (nor entropic terms or imbalance split): it needs two batch sizes, i.e. "
                      "two or more ranks, or train.grad_accum ≥ 2 on one rank");
  }
  if (settings.effective_lr) {
    const double eta = *settings.effective_lr;
    out["temperature"] = eta / B;
    if (whole) {
      const double disc = eta / 4 * whole->g2, noise = eta / (4 * B) * whole->trace_sigma;
      out["entropic_discretization"] = disc;
      out["entropic_noise"] = noise;
      out["entropic_ratio"] = noise / disc;
    }
  } else {
    r.notes.push_back("temperature and entropic terms are SGD's (η/B, (η/4)|G|², (η/4B) tr Σ); an adaptive optimizer "
                      "(optimizer.kind adamw) has none: left out");
  }
  const std::vector<ParamInfo>& infos = store.params();
  for (std::size_t i = 0; i < groups.tensors(); ++i) {
    out["weight_norm/" + infos[i].name] = std::sqrt(m.weight_sq[i]);
    out["grad_norm/" + infos[i].name] = std::sqrt(m.grad_sq[i]);
  }
  const Symmetries& sym = groups.symmetries();
  for (std::size_t k = 0; k < sym.pairs.size(); ++k) {
    const std::size_t u = groups.pair_u(k), w = groups.pair_w(k);
    const std::string& name = sym.pairs[k].name;
    out["charge/" + name] = m.weight_sq[u] - m.weight_sq[w];
    out["balance/" + name] = m.grad_sq[u] / m.grad_sq[w];
    if (noisy && whole) {
      const NoiseScale nu = estimate_noise_scale(m.small_sq[u], m.grad_sq[u], m.small_batches);
      const NoiseScale nw = estimate_noise_scale(m.small_sq[w], m.grad_sq[w], m.small_batches);
      out["imbalance_g2/" + name] = nu.g2 - nw.g2;
      out["imbalance_noise/" + name] = (nu.trace_sigma - nw.trace_sigma) / B;
    }
  }
  if (!sym.scale_invariant.empty()) {
    if (settings.effective_lr && settings.weight_decay > 0) {
      for (std::size_t k = 0; k < sym.scale_invariant.size(); ++k) {
        const std::size_t g = groups.invariant(k);
        out["wd_equilibrium/" + sym.scale_invariant[k].name] =
            *settings.effective_lr * m.grad_sq[g] / (2 * settings.weight_decay * m.weight_sq[g]);
      }
    } else {
      r.notes.push_back("the weight-decay equilibrium η‖g‖²/(2γ‖θ‖²) of scale-invariant weights needs optimizer.kind sgd "
                        "with weight_decay > 0: left out");
    }
  }
  if (sym.pairs.empty() && sym.scale_invariant.empty())
    r.notes.push_back("this model declares no rescaling pairs or scale-invariant groups (an MLP needs model.activation "
                      "relu or model.layer_norm true; DiT and U-Net attention have pairs): no charges or balances");
  return r;
}

}  // namespace carnot
