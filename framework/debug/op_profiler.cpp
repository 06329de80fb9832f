#include "framework/debug/op_profiler.h"

#include <algorithm>

#if CARNOT_WITH_CUDA
#include "kernels/cuda/cuda_runtime.h"
#endif

namespace carnot {

OpProfiler::OpProfiler(Ops& inner, bool gpu) : ForwardingOps(inner), gpu_(gpu) {
#if !CARNOT_WITH_CUDA
  gpu_ = false;
#endif
}

OpProfiler::~OpProfiler() {
#if CARNOT_WITH_CUDA
  for (void* e : events_) cuda::event_destroy(e);
#endif
}

void OpProfiler::begin(const char* op) {
  (void)op;
  if (depth_++ > 0) return;
#if CARNOT_WITH_CUDA
  if (gpu_) {
    while (events_.size() < next_event_ + 2) events_.push_back(cuda::event_create());
    cuda::event_record(events_[next_event_]);
    return;
  }
#endif
  started_ = std::chrono::steady_clock::now();
}

void OpProfiler::end(const char* op) {
  if (--depth_ > 0) return;
#if CARNOT_WITH_CUDA
  if (gpu_) {
    cuda::event_record(events_[next_event_ + 1]);
    next_event_ += 2;
    pending_.push_back(op);
    return;
  }
#endif
  Row& r = totals_[op];
  r.op = op, ++r.calls;
  r.ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count();
}

void OpProfiler::reset() {
  inner_.synchronize();
  pending_.clear();
  next_event_ = 0;
  totals_.clear();
}

std::vector<OpProfiler::Row> OpProfiler::rows() {
#if CARNOT_WITH_CUDA
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    Row& r = totals_[pending_[i]];
    r.op = pending_[i], ++r.calls;
    r.ms += cuda::event_elapsed_ms(events_[2 * i], events_[2 * i + 1]);
  }
#endif
  pending_.clear();
  next_event_ = 0;
  std::vector<Row> out;
  for (const auto& [name, r] : totals_) out.push_back(r);
  std::sort(out.begin(), out.end(), [](const Row& a, const Row& b) { return a.ms > b.ms; });
  return out;
}

}  // namespace carnot
