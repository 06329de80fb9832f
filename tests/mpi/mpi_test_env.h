#pragma once
#include "framework/dist/comm.h"

namespace carnot::test {
extern Comm* g_comm;  // MPI_COMM_WORLD for the whole test binary
}
