// Timeline: Chrome-trace JSON per rank (opens in Perfetto or chrome://tracing). Each span is a
// complete event ("ph": "X") with its start and duration in microseconds since the trace began;
// pid is the rank, so the ranks' files can be loaded together and lined up. Spans are kept in
// memory and written when the trace is closed; only the first max_steps steps are recorded, so
// that a long run's trace stays small.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace carnot {

class Trace {
 public:
  Trace(std::string path, int rank, std::int64_t max_steps);
  ~Trace();  // writes the file if close() was not called
  Trace(const Trace&) = delete;
  Trace& operator=(const Trace&) = delete;

  // Spans of step `step` (0-based) are recorded while step < first recorded step + max_steps.
  bool recording(std::int64_t step);
  // A span from `start` to now; `name` must be a string literal.
  void span(const char* name, std::chrono::steady_clock::time_point start, std::int64_t step);
  void close();  // writes the file (atomically); idempotent
  const std::string& path() const { return path_; }

 private:
  struct Event {
    const char* name;
    double ts_us, dur_us;
    std::int64_t step;
  };
  std::string path_;
  int rank_;
  std::int64_t max_steps_, first_step_ = -1;
  std::chrono::steady_clock::time_point origin_;
  std::vector<Event> events_;
  bool closed_ = false;
};

// Times a span of the current scope into `trace` (null: nothing).
class TraceSpan {
 public:
  TraceSpan(Trace* trace, const char* name, std::int64_t step)
      : trace_(trace && trace->recording(step) ? trace : nullptr), name_(name), step_(step),
        start_(std::chrono::steady_clock::now()) {}
  ~TraceSpan() {
    if (trace_) trace_->span(name_, start_, step_);
  }

 private:
  Trace* trace_;
  const char* name_;
  std::int64_t step_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace carnot
