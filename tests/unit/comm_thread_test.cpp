// CommThread: jobs run one at a time in the order posted, whether the thread or drain() runs
// them; the first error comes back from drain() and the jobs after it are skipped.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "framework/dist/comm_thread.h"

namespace carnot {
namespace {

TEST(CommThread, RunsJobsInOrderOneAtATime) {
  CommThread worker;
  std::vector<int> order;  // written by whichever thread runs the job: one at a time, so no race
  std::atomic<int> running{0};
  std::atomic<bool> overlapped{false};
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 20; ++i)
      worker.post([&, k = round * 20 + i] {
        if (running.fetch_add(1) != 0) overlapped = true;
        order.push_back(k);
        running.fetch_sub(1);
      });
    worker.drain();
  }
  ASSERT_EQ(order.size(), 1000u);
  for (int k = 0; k < 1000; ++k) ASSERT_EQ(order[std::size_t(k)], k);
  EXPECT_FALSE(overlapped);
}

TEST(CommThread, FirstErrorComesBackAndLaterJobsAreSkipped) {
  CommThread worker;
  int ran = 0;
  worker.post([&] { ++ran; });
  worker.post([] { throw std::runtime_error("first"); });
  worker.post([] { throw std::runtime_error("second"); });
  worker.post([&] { ++ran; });
  try {
    worker.drain();
    ADD_FAILURE() << "drain() did not rethrow";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "first");
  }
  EXPECT_EQ(ran, 1);
  worker.post([&] { ++ran; });  // the error was handed over: the thread works again
  worker.drain();
  EXPECT_EQ(ran, 2);
}

}  // namespace
}  // namespace carnot
