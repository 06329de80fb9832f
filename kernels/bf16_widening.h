// bfloat16 for an op table whose kernels are float32 and float64 only: each bf16 op widens its
// inputs to float32 scratch (Ops::convert), runs the table's float32 op, and narrows each output
// once. This is the CPU oracle's bf16 (cpu_ops()), and so the contract every bf16 kernel keeps:
// compute in float32 from bf16 inputs, round each output to bf16 once. LayerNorm's and GroupNorm's
// statistics stay float32 (their mean and rstd pointers are float for bf16). Other dtypes pass
// through to the inner table untouched.
//
// Scratch comes from `alloc` in the inner table's memory and is kept for reuse (grown, never
// shrunk), so a steady step allocates nothing. Calls are serialised by a mutex.
#pragma once
#include <cstddef>
#include <memory>

#include "kernels/ops.h"

namespace carnot {

struct ScratchMemory {
  void* (*alloc)(std::size_t bytes);
  void (*release)(void* p);
};

// An op table with bf16 over `inner` (which must outlive it); on_gpu() is inner's.
std::unique_ptr<Ops> make_bf16_widening(Ops& inner, ScratchMemory memory);

}  // namespace carnot
