// Threads the CPU kernels (OpenBLAS) may use in this process.
#pragma once

namespace carnot::cpu {

void set_threads(int n);
int threads();

}  // namespace carnot::cpu
