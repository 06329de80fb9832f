// The op table on the GPU (kernels/ops.h): every pointer a device pointer. Implemented so far
// (kernels.cuh): the elementwise ops, LayerNorm and adaLN's modulation and gate, embeddings and
// layout moves, per-plane ops, up-sampling, time features, dropout, the reductions (sum of squares,
// the loss) and the optimizer steps, each tested against its CPU twin in tests/cuda/. The others
// throw naming the op (issue 7 brings them: cuBLASLt GEMMs, GroupNorm, attention, cuDNN
// convolutions).
//
// Reductions are deterministic: a fixed grid, per-block tree sums in shared memory, and the
// blocks' partial sums added on the host in block order, all in float64.
#pragma once
#include "kernels/ops.h"

namespace carnot {

// The process's CUDA op table on the current device (throws where CUDA is unusable).
Ops& cuda_ops();

}  // namespace carnot
