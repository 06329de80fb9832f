// CommThread: one background thread that runs posted jobs (blocking collectives) in the order
// posted, as Horovod's background thread and c10d's work queue do. Blocking MPI_Allreduce uses
// MPI's tuned algorithms, which Open MPI's nonblocking ones (libnbc) trail by up to 2× on shared
// memory, and it progresses by itself while the caller computes: no polling from backward.
// The first error a job throws is kept, later jobs are skipped, and drain() rethrows it.
#pragma once
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace carnot {

class CommThread {
 public:
  CommThread();
  ~CommThread();  // drains (dropping any error) and joins
  CommThread(const CommThread&) = delete;
  CommThread& operator=(const CommThread&) = delete;

  void post(std::function<void()> job);
  // Returns when every posted job has run (running those not yet picked up itself); rethrows the
  // first error.
  void drain();

 private:
  void run();
  void run_front(std::unique_lock<std::mutex>& lock);  // the next job, with the lock held on entry
  std::mutex mutex_;
  std::condition_variable work_, idle_;
  std::deque<std::function<void()>> jobs_;
  bool busy_ = false, stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace carnot
