#include "framework/dist/watchdog.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "framework/core/error.h"

namespace carnot {

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Watchdog::Watchdog(int rank, double timeout_s) : rank_(rank), timeout_s_(timeout_s), last_ns_(now_ns()) {
  thread_ = std::thread([this] { watch(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Watchdog::beat(const char* doing, std::int64_t step) {
  doing_.store(doing);
  step_.store(step);
  last_ns_.store(now_ns());
}

void Watchdog::watch() {
  // Look ten times per timeout, at most once a second.
  const auto period = std::chrono::duration<double>(std::min(1.0, timeout_s_ / 10));
  std::unique_lock<std::mutex> lock(mutex_);
  while (!wake_.wait_for(lock, period, [this] { return stop_; })) {
    const double idle = double(now_ns() - last_ns_.load()) * 1e-9;
    if (idle < timeout_s_) continue;
    std::fprintf(stderr,
                 "carnot: rank %d: no progress for %.0f s while %s at step %lld (distributed.timeout_s %.0f); "
                 "ending the job\n",
                 rank_, idle, doing_.load(), (long long)step_.load(), timeout_s_);
    std::fflush(stderr);
    std::_Exit(int(ExitCode::kRuntime));
  }
}

}  // namespace carnot
