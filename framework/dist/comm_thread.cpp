#include "framework/dist/comm_thread.h"

namespace carnot {

CommThread::CommThread() : thread_([this] { run(); }) {}

CommThread::~CommThread() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [this] { return jobs_.empty() && !busy_; });
    stop_ = true;
  }
  work_.notify_one();
  thread_.join();
}

void CommThread::post(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  work_.notify_one();
}

void CommThread::drain() {
  std::unique_lock<std::mutex> lock(mutex_);
  // Jobs the thread has not picked up yet run here: waking it costs tens of µs, which a small
  // message would otherwise wait for. One job runs at a time either way, in the order posted.
  for (;;) {
    if (!jobs_.empty() && !busy_) {
      run_front(lock);
      continue;
    }
    if (jobs_.empty() && !busy_) break;
    idle_.wait(lock);
  }
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

void CommThread::run_front(std::unique_lock<std::mutex>& lock) {
  std::function<void()> job = std::move(jobs_.front());
  jobs_.pop_front();
  busy_ = true;
  const bool skip = error_ != nullptr;  // after a failure the ranks' collectives no longer match
  lock.unlock();
  std::exception_ptr failed;
  if (!skip) {
    try {
      job();
    } catch (...) {
      failed = std::current_exception();
    }
  }
  lock.lock();
  if (failed && !error_) error_ = failed;
  busy_ = false;
  idle_.notify_all();
  if (!jobs_.empty()) work_.notify_one();
}

void CommThread::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_.wait(lock, [this] { return stop_ || (!jobs_.empty() && !busy_); });
    if (jobs_.empty()) return;  // stop_ and nothing left
    run_front(lock);
  }
}

}  // namespace carnot
