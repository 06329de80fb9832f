#include "framework/optim/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace carnot {

double scheduled_lr(const OptimizerSpec& spec, std::int64_t step, std::int64_t total) {
  const std::int64_t warmup = spec.warmup_steps;
  if (step < warmup) return spec.lr * double(step + 1) / double(warmup);
  if (spec.schedule != "cosine") return spec.lr;
  const std::int64_t end = spec.decay_steps > 0 ? spec.decay_steps : total;
  if (step >= end || end <= warmup) return spec.min_lr;
  const double progress = double(step - warmup) / double(end - warmup);
  return spec.min_lr + (spec.lr - spec.min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace carnot
