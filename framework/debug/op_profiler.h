// Where a step's time goes, op by op: an op table that forwards to another and times each call —
// on a GPU by CUDA events around it (queued with the work, read when asked: no wait per op), on
// the CPU by the clock (its ops are done when they return). `carnot bench step --profile` prints
// the table. Recording events costs the host a few microseconds per op, so a profiled step can
// be slower than an unprofiled one where the host, not the GPU, sets the pace.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kernels/forwarding_ops.h"

namespace carnot {

class OpProfiler final : public ForwardingOps {
 public:
  // gpu: the inner table queues its work on a GPU (events time it; not the guarded device, whose
  // ops run on the CPU when called).
  OpProfiler(Ops& inner, bool gpu);
  ~OpProfiler() override;
  OpProfiler(const OpProfiler&) = delete;
  OpProfiler& operator=(const OpProfiler&) = delete;

  struct Row {
    std::string op;
    std::int64_t calls = 0;
    double ms = 0;  // summed over the calls
  };
  // Forgets what was timed so far (the end of a warm-up).
  void reset();
  // Waits for the device; one row per op, the largest total first.
  std::vector<Row> rows();

 private:
  void begin(const char* op) override;
  void end(const char* op) override;

  bool gpu_;
  int depth_ = 0;  // an op that calls the table again is timed once, as a whole
  std::chrono::steady_clock::time_point started_;
  std::vector<void*> events_;  // GPU: a pool, two per timed call, reused after rows()
  std::size_t next_event_ = 0;
  std::vector<const char*> pending_;  // GPU: the op of each event pair not yet read
  std::map<std::string, Row> totals_;
};

}  // namespace carnot
