// Watchdog: a thread that ends the process when the trainer stops making progress. Each rank's
// trainer reports what it is doing (computing, waiting in the all-reduce, checkpointing) at every
// change; if the report is older than timeout_s the watchdog prints one line naming the rank, what
// it was doing and at which step, and exits at once. The launcher then ends the other ranks, so a
// rank that hangs, or one that waits for it in a collective, never hangs the job. (Exiting from
// the watchdog thread, rather than MPI_Abort, needs no MPI thread support.)
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace carnot {

class Watchdog {
 public:
  Watchdog(int rank, double timeout_s);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // `doing` must be a string literal ("computing", "waiting in the gradient all-reduce", ...).
  void beat(const char* doing, std::int64_t step);

 private:
  void watch();

  int rank_;
  double timeout_s_;
  std::atomic<std::int64_t> last_ns_;
  std::atomic<const char*> doing_{"starting"};
  std::atomic<std::int64_t> step_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace carnot
