// gtest under mpirun: every rank runs every test; rank 0 prints; the exit code is agreed.
#include <gtest/gtest.h>

#include "framework/dist/comm.h"
#include "tests/mpi/mpi_test_env.h"

namespace carnot::test {
Comm* g_comm = nullptr;
}

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  auto comm = carnot::make_comm_from_environment();
  carnot::test::g_comm = comm.get();
  if (comm->rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  double failed = RUN_ALL_TESTS() != 0 ? 1.0 : 0.0;
  comm->allreduce_sum(&failed, 1);
  return failed > 0 ? 1 : 0;
}
