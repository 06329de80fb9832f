#include "framework/train/trace.h"

#include <nlohmann/json.hpp>

#include "framework/io/file_util.h"

namespace carnot {

Trace::Trace(std::string path, int rank, std::int64_t max_steps)
    : path_(std::move(path)), rank_(rank), max_steps_(max_steps), origin_(std::chrono::steady_clock::now()) {}

Trace::~Trace() {
  try {
    close();
  } catch (...) {  // a destructor must not throw; close() was the place to learn of it
  }
}

bool Trace::recording(std::int64_t step) {
  if (first_step_ < 0) first_step_ = step;
  return step < first_step_ + max_steps_;
}

void Trace::span(const char* name, std::chrono::steady_clock::time_point start, std::int64_t step) {
  using us = std::chrono::duration<double, std::micro>;
  const auto end = std::chrono::steady_clock::now();
  events_.push_back({name, us(start - origin_).count(), us(end - start).count(), step});
}

void Trace::close() {
  if (closed_) return;
  closed_ = true;
  nlohmann::json events = nlohmann::json::array();
  events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", rank_}, {"tid", 0},
                    {"args", {{"name", "rank " + std::to_string(rank_)}}}});
  for (const Event& e : events_)
    events.push_back({{"name", e.name}, {"cat", "train"}, {"ph", "X"}, {"pid", rank_}, {"tid", 0},
                      {"ts", e.ts_us}, {"dur", e.dur_us}, {"args", {{"step", e.step + 1}}}});
  const nlohmann::json doc = {{"traceEvents", events}, {"displayTimeUnit", "ms"}};
  write_file_atomically(path_, doc.dump());
}

}  // namespace carnot
