// The optimizer over a flat fp32 parameter buffer (all parameters, or a rank's ZeRO shard). Its
// state is a list of named tensors, each flat in the same layout as the parameters, so that a
// checkpoint saves them by name and ZeRO gathers and scatters them alike whatever the kind.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/io/job_spec.h"
#include "kernels/ops.h"

namespace carnot {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // One step on params given grads (both flat, as many elements as the state); counts steps from 1.
  virtual void step(const Tensor& params, const Tensor& grads) = 0;
  // The whole update after the reduction: grads *= grad_scale (clipping; 1: none), the step, then
  // ema = ema_decay·ema + (1 − ema_decay)·params and params rounded into params_bf16 (null: none,
  // else a bf16 buffer as long). AdamW makes it one op (Ops::adamw_ema_step, fused on a GPU); the
  // default does the four in turn. Either way the same bits as scale, step, ema_update, convert.
  virtual void step_with_ema(const Tensor& params, const Tensor& grads, double grad_scale, const Tensor& ema,
                             float ema_decay, void* params_bf16);
  // The state tensors' names (PyTorch's: exp_avg, exp_avg_sq; momentum_buffer) and the tensors.
  virtual std::vector<std::string> state_names() const = 0;
  virtual Tensor state(std::size_t i) const = 0;
  // Heavy-ball SGD's step size at stationarity, η/(1 − μ), from which the SGD temperature η/((1−μ)B)
  // follows; none for adaptive methods, whose temperature is not defined.
  virtual std::optional<double> effective_lr() const { return std::nullopt; }

  std::int64_t steps_taken() const { return step_; }
  void set_steps_taken(std::int64_t step) { step_ = step; }
  // The learning rate the next step takes (the schedule sets it before each step).
  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  std::int64_t size() const { return n_; }

 protected:
  Optimizer(Ops& ops, const OptimizerSpec& spec, std::int64_t n) : ops_(ops), spec_(spec), n_(n), lr_(spec.lr) {}
  // Checks the sizes and counts the step.
  void begin_step(const Tensor& params, const Tensor& grads);

  Ops& ops_;
  OptimizerSpec spec_;
  std::int64_t n_;
  double lr_;
  std::int64_t step_ = 0;
};

// optimizer.kind adamw or sgd over n parameters.
std::unique_ptr<Optimizer> make_optimizer(Ops& ops, const OptimizerSpec& spec, std::int64_t n);

}  // namespace carnot
