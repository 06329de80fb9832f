// The replica check run at every checkpoint: identical bytes pass; a rank whose bytes differ makes
// every rank throw the same error naming it.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "framework/core/error.h"
#include "framework/dist/agree.h"
#include "tests/mpi/mpi_test_env.h"

namespace carnot {
namespace {

TEST(ReplicaCheck, IdenticalPassesAndADifferentRankIsNamed) {
  Comm& world = *test::g_comm;
  ASSERT_GE(world.size(), 2) << "run this binary under mpirun -np 2 or more";
  std::vector<float> w(1001);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.001f * float(i);
  EXPECT_NO_THROW(check_replicas_identical(world, w.data(), std::int64_t(w.size() * 4), "the weights"));
  if (world.rank() == world.size() - 1) w[777] = std::nextafter(w[777], 1.0f);  // one ulp on the last rank
  std::string message;
  try {
    check_replicas_identical(world, w.data(), std::int64_t(w.size() * 4), "the weights at step 7");
  } catch (const Error& e) {
    message = e.what();
    EXPECT_TRUE(e.on_all_ranks());
  }
  EXPECT_NE(message.find("the weights at step 7 differ across ranks: rank(s) " + std::to_string(world.size() - 1) +
                         " disagree with rank 0"),
            std::string::npos)
      << "rank " << world.rank() << ": '" << message << "'";
}

}  // namespace
}  // namespace carnot
