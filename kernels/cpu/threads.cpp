#include "kernels/cpu/threads.h"

#include <cblas.h>

namespace carnot::cpu {

#if defined(CARNOT_OPENBLAS)
void set_threads(int n) { openblas_set_num_threads(n); }
int threads() { return openblas_get_num_threads(); }
#else
void set_threads(int) {}
int threads() { return 1; }
#endif

}  // namespace carnot::cpu
