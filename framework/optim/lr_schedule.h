// The learning rate of each step: a linear warm-up from lr/warmup_steps to lr over the first
// optimizer.warmup_steps steps, then constant, or (schedule cosine) a half cosine from lr down to
// optimizer.min_lr at step optimizer.decay_steps (0: train.steps), min_lr after. A function of the
// step alone, so a resumed run takes the same rates as an uninterrupted one.
#pragma once
#include <cstdint>

#include "framework/io/job_spec.h"

namespace carnot {

// step: 0-based, the step about to be taken; total: train.steps.
double scheduled_lr(const OptimizerSpec& spec, std::int64_t step, std::int64_t total);

}  // namespace carnot
