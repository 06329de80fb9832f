// A Comm whose float sums add the ranks' values in rank order, element by element, whatever the
// collective: all-reduce and reduce-scatter then give the same bits for the same inputs, which MPI
// does not promise (its algorithm, and so the order of the additions, follows the message size).
// For tests that compare two ways of reducing the same gradients: AdamW turns a rounding
// difference δg in a nearly cancelled gradient into an update difference of up to lr·δg/eps
// (1e5·δg at the defaults), so only equal sums make "the sharded optimizer equals the replicated
// one" a claim that holds to the last bit rather than to a guessed tolerance. Everything else
// goes to the wrapped communicator.
#pragma once
#include <cstdlib>
#include <vector>

#include "framework/dist/comm.h"

namespace carnot::test {

class RankOrderedComm final : public Comm {
 public:
  explicit RankOrderedComm(Comm& world) : world_(world) {}
  int rank() const override { return world_.rank(); }
  int size() const override { return world_.size(); }
  int local_rank() const override { return world_.local_rank(); }
  int local_size() const override { return world_.local_size(); }
  std::string backend() const override { return world_.backend() + " (rank-ordered sums)"; }

  void allreduce_sum(float* data, std::int64_t n) override { sum_in_rank_order(data, n, 0, n, data); }
  void reduce_scatter_sum(const float* in, float* out, const std::vector<std::int64_t>& counts) override {
    std::int64_t begin = 0, n = 0;
    for (int r = 0; r < size(); ++r) {
      if (r < rank()) begin += counts[std::size_t(r)];
      n += counts[std::size_t(r)];
    }
    sum_in_rank_order(in, n, begin, counts[std::size_t(rank())], out);
  }
  // Done at once: the results are in place before the caller may look (wait_all).
  void start_allreduce_sum(float* data, std::int64_t n) override { allreduce_sum(data, n); }
  void start_reduce_scatter_sum(const float* in, float* out, const std::vector<std::int64_t>& counts) override {
    reduce_scatter_sum(in, out, counts);
  }
  void progress() override {}
  void wait_all() override {}

  void allreduce_sum(double* data, std::int64_t n) override { world_.allreduce_sum(data, n); }
  void allreduce_sum_bf16(std::uint16_t* data, std::int64_t n) override { world_.allreduce_sum_bf16(data, n); }
  void gather(const float* data, std::int64_t count, const std::vector<std::int64_t>& counts, float* out) override {
    world_.gather(data, count, counts, out);
  }
  void allgather(const float* in, float* out, const std::vector<std::int64_t>& counts) override {
    world_.allgather(in, out, counts);
  }
  void allreduce_max(double* data, std::int64_t n) override { world_.allreduce_max(data, n); }
  void broadcast(void* data, std::int64_t bytes, int root) override { world_.broadcast(data, bytes, root); }
  void scatter(const float* in, float* out, const std::vector<std::int64_t>& counts) override {
    world_.scatter(in, out, counts);
  }
  void barrier() override { world_.barrier(); }
  [[noreturn]] void abort(int code) override {
    world_.abort(code);
    std::abort();  // (not reached: the inner abort never returns)
  }

 private:
  // in: this rank's whole buffer of `n` elements; out[i] = Σ_r (rank r's in)[begin + i], added
  // r = 0, 1, … for i < count. Every rank's buffer comes to every rank (fine at test sizes).
  void sum_in_rank_order(const float* in, std::int64_t n, std::int64_t begin, std::int64_t count, float* out) {
    const std::vector<std::int64_t> each(std::size_t(size()), n);
    all_.resize(std::size_t(n) * std::size_t(size()));
    world_.allgather(in, all_.data(), each);
    for (std::int64_t i = 0; i < count; ++i) {
      float s = all_[std::size_t(begin + i)];
      for (int r = 1; r < size(); ++r) s += all_[std::size_t(std::int64_t(r) * n + begin + i)];
      out[i] = s;
    }
  }
  Comm& world_;
  std::vector<float> all_;
};

}  // namespace carnot::test
