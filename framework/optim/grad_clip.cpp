#include "framework/optim/grad_clip.h"

#include <cmath>

namespace carnot {

double global_norm(Ops& ops, const Tensor& grads) {
  return std::sqrt(ops.sum_squares(grads.dtype(), grads.numel(), grads.raw()));
}

double clip_grad_norm(Ops& ops, const Tensor& grads, double max_norm) {
  const double norm = global_norm(ops, grads);
  clip_to_norm(ops, grads, norm, max_norm);
  return norm;
}

double clip_scale(double norm, double max_norm) {
  return max_norm > 0 && norm > max_norm ? max_norm / (norm + 1e-6) : 1.0;
}

void clip_to_norm(Ops& ops, const Tensor& grads, double norm, double max_norm) {
  const double s = clip_scale(norm, max_norm);
  if (s != 1.0) ops.scale(grads.dtype(), grads.numel(), s, grads.raw());
}

}  // namespace carnot
