// The op table on the GPU (kernels/ops.h): every pointer a device pointer, every op in fp32 and
// fp64 (kernels.cuh, gemm.cuh): GEMMs through cuBLAS, the elementwise ops, LayerNorm, GroupNorm,
// adaLN's modulation and gate, attention (materialised probabilities, batched GEMMs),
// convolutions (im2col + GEMM), embeddings and layout moves, per-plane ops, up-sampling, time
// features, dropout, the reductions (sum of squares, the loss) and the optimizer steps, each
// tested against its CPU twin in tests/cuda/. Next (issue 7): bf16, cuBLASLt epilogues, fused
// attention, cuDNN convolutions.
//
// Reductions are deterministic: a fixed grid, per-block tree sums in shared memory, and the
// blocks' partial sums added on the host in block order, all in float64.
#pragma once
#include "kernels/ops.h"

namespace carnot {

// The process's CUDA op table on the current device (throws where CUDA is unusable).
Ops& cuda_ops();

}  // namespace carnot
