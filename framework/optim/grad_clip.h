// Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_): scale all gradients by
// max_norm / (norm + 1e-6) when the norm exceeds max_norm.
#pragma once
#include "framework/core/tensor.h"
#include "kernels/ops.h"

namespace carnot {

// The gradients' global L2 norm.
double global_norm(Ops& ops, const Tensor& grads);
// Returns the norm before clipping. max_norm = 0 only measures.
double clip_grad_norm(Ops& ops, const Tensor& grads, double max_norm);
// What clipping multiplies the gradients by: max_norm / (norm + 1e-6) past max_norm, else 1.
double clip_scale(double norm, double max_norm);
// The scaling alone, given the norm of all gradients (under ZeRO each rank scales its shard by the
// norm of the whole, which the ranks sum from their shards' squares).
void clip_to_norm(Ops& ops, const Tensor& grads, double norm, double max_norm);

}  // namespace carnot
