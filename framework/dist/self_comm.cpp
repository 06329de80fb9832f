#include <cstdlib>
#include <cstring>

#include "framework/dist/comm.h"

namespace carnot {

namespace {

class SelfComm final : public Comm {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  std::string backend() const override { return "self"; }
  void allreduce_sum(float*, std::int64_t) override {}
  void allreduce_sum(double*, std::int64_t) override {}
  void allreduce_sum_bf16(std::uint16_t*, std::int64_t) override {}
  void gather(const float* data, std::int64_t count, const std::vector<std::int64_t>&,
              float* out) override {
    if (out != data) std::memcpy(out, data, std::size_t(count) * sizeof(float));
  }
  void reduce_scatter_sum(const float* in, float* out, const std::vector<std::int64_t>& counts) override {
    if (out != in) std::memcpy(out, in, std::size_t(counts.at(0)) * sizeof(float));
  }
  void allgather(const float* in, float* out, const std::vector<std::int64_t>& counts) override {
    if (out != in) std::memcpy(out, in, std::size_t(counts.at(0)) * sizeof(float));
  }
  void allreduce_max(double*, std::int64_t) override {}
  void start_allreduce_sum(float*, std::int64_t) override {}
  void start_reduce_scatter_sum(const float* in, float* out, const std::vector<std::int64_t>& counts) override {
    reduce_scatter_sum(in, out, counts);
  }
  void scatter(const float* in, float* out, const std::vector<std::int64_t>& counts) override {
    if (out != in) std::memcpy(out, in, std::size_t(counts.at(0)) * sizeof(float));
  }
  void progress() override {}
  void wait_all() override {}
  void broadcast(void*, std::int64_t, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::_Exit(code); }
};

}  // namespace

std::unique_ptr<Comm> make_self_comm() { return std::make_unique<SelfComm>(); }

std::vector<std::int64_t> shard_counts(std::int64_t n, int world) {
  std::vector<std::int64_t> c(static_cast<std::size_t>(world), n / world);
  for (int r = 0; r < int(n % world); ++r) ++c[std::size_t(r)];
  return c;
}

}  // namespace carnot
