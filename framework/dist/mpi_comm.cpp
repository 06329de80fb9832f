// Comm over MPI_COMM_WORLD. MPI errors are returned, not fatal, so each call's failure becomes a
// carnot::Error naming the rank and the call.
//
// The started collectives (start_*) run as blocking calls on a CommThread, in the order started,
// when MPI grants MPI_THREAD_SERIALIZED; every other call first drains that thread, so MPI is
// never entered by two threads at once and all ranks see the collectives in one order. Where MPI
// grants less, they are MPI's nonblocking collectives, progressed by progress().
#include <mpi.h>

#include <climits>
#include <cstdlib>
#include <deque>

#include "framework/core/error.h"
#include "framework/dist/comm.h"
#include "framework/dist/comm_thread.h"
#include "framework/dist/launcher.h"
#include "kernels/bf16.h"

namespace carnot {

namespace {

std::string mpi_error_string(int code) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, buf, &len);
  return std::string(buf, std::size_t(len));
}

int world_rank() {
  int r = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

}  // namespace

#define CARNOT_MPI_CHECK(call)                                                                \
  do {                                                                                        \
    const int carnot_mpi_rc = (call);                                                         \
    if (carnot_mpi_rc != MPI_SUCCESS)                                                         \
      throw ::carnot::Error(::carnot::str_cat("rank ", world_rank(), ": ", #call, " failed: ", \
                                              mpi_error_string(carnot_mpi_rc)));              \
  } while (0)

namespace {

int checked_int(std::int64_t n, const char* what) {
  CARNOT_CHECK(n >= 0 && n <= INT_MAX, what, " of ", n, " elements exceeds MPI's int count");
  return int(n);
}

// MPI's int counts and displacements for one contiguous block per rank, in rank order.
struct Blocks {
  std::vector<int> counts, displs;
};
Blocks blocks_of(const std::vector<std::int64_t>& counts, int size, const char* what) {
  CARNOT_CHECK(int(counts.size()) == size, what, " needs one count per rank");
  Blocks b{std::vector<int>(counts.size()), std::vector<int>(counts.size())};
  std::int64_t at = 0;
  for (std::size_t r = 0; r < counts.size(); ++r) {
    b.counts[r] = checked_int(counts[r], what);
    b.displs[r] = checked_int(at, what);
    at += counts[r];
  }
  return b;
}

// MPI has no bfloat16: sum pairs of them in float and round back.
void bf16_sum(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const std::uint16_t*>(in);
  auto* b = static_cast<std::uint16_t*>(inout);
  for (int i = 0; i < *len; ++i) b[i] = float_to_bf16(bf16_to_float(a[i]) + bf16_to_float(b[i]));
}

class MpiComm final : public Comm {
 public:
  explicit MpiComm(const LaunchEnv& env) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
        throw Error("MPI_Init_thread failed (launched by " + env.launcher + ")");
      owns_mpi_ = true;
    }
    int level = MPI_THREAD_SINGLE;
    MPI_Query_thread(&level);
    if (level >= MPI_THREAD_SERIALIZED) worker_ = std::make_unique<CommThread>();
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    CARNOT_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
    CARNOT_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size_));
    if (env.size > 0 && env.size != size_)
      throw Error(str_cat("rank ", rank_, ": the ", env.launcher, " launcher announced ", env.size,
                          " ranks but MPI_COMM_WORLD has ", size_,
                          " (is this binary linked against another MPI than the launcher's?)"));
    CARNOT_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_,
                                         MPI_INFO_NULL, &node_));
    CARNOT_MPI_CHECK(MPI_Comm_rank(node_, &local_rank_));
    CARNOT_MPI_CHECK(MPI_Comm_size(node_, &local_size_));
    CARNOT_MPI_CHECK(MPI_Op_create(&bf16_sum, /*commute=*/1, &bf16_sum_));
  }
  ~MpiComm() override {
    worker_.reset();
    MPI_Op_free(&bf16_sum_);
    MPI_Comm_free(&node_);
    if (owns_mpi_) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  std::string backend() const override { return "mpi"; }
  bool has_comm_thread() const { return worker_ != nullptr; }

  void allreduce_sum(float* data, std::int64_t n) override {
    drain();
    CARNOT_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, checked_int(n, "all-reduce"), MPI_FLOAT,
                                   MPI_SUM, MPI_COMM_WORLD));
  }
  void allreduce_sum(double* data, std::int64_t n) override {
    drain();
    CARNOT_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, checked_int(n, "all-reduce"), MPI_DOUBLE,
                                   MPI_SUM, MPI_COMM_WORLD));
  }
  void allreduce_sum_bf16(std::uint16_t* data, std::int64_t n) override {
    drain();
    CARNOT_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, checked_int(n, "all-reduce"), MPI_UINT16_T, bf16_sum_,
                                   MPI_COMM_WORLD));
  }
  void gather(const float* data, std::int64_t count, const std::vector<std::int64_t>& counts,
              float* out) override {
    drain();
    const Blocks b = blocks_of(counts, size_, "gather");
    CARNOT_MPI_CHECK(MPI_Gatherv(data, checked_int(count, "gather"), MPI_FLOAT, out, b.counts.data(),
                                 b.displs.data(), MPI_FLOAT, 0, MPI_COMM_WORLD));
  }
  void reduce_scatter_sum(const float* in, float* out, const std::vector<std::int64_t>& counts) override {
    drain();
    const Blocks b = blocks_of(counts, size_, "reduce-scatter");
    CARNOT_MPI_CHECK(MPI_Reduce_scatter(in, out, b.counts.data(), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
  }
  void allgather(const float* in, float* out, const std::vector<std::int64_t>& counts) override {
    drain();
    const Blocks b = blocks_of(counts, size_, "all-gather");
    // A shard already in its place in `out` goes as MPI_IN_PLACE.
    const std::size_t me = std::size_t(rank_);
    const void* send = in == out + b.displs[me] ? MPI_IN_PLACE : static_cast<const void*>(in);
    CARNOT_MPI_CHECK(MPI_Allgatherv(send, b.counts[me], MPI_FLOAT, out, b.counts.data(), b.displs.data(), MPI_FLOAT,
                                    MPI_COMM_WORLD));
  }
  void start_allreduce_sum(float* data, std::int64_t n) override {
    const int count = checked_int(n, "all-reduce");
    if (worker_) {
      worker_->post([data, count] {
        CARNOT_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
      });
      return;
    }
    requests_.emplace_back();
    CARNOT_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, data, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &requests_.back()));
  }
  void start_reduce_scatter_sum(const float* in, float* out, const std::vector<std::int64_t>& counts) override {
    Blocks b = blocks_of(counts, size_, "reduce-scatter");
    if (worker_) {
      worker_->post([in, out, b = std::move(b)] {
        CARNOT_MPI_CHECK(MPI_Reduce_scatter(in, out, b.counts.data(), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
      });
      return;
    }
    // MPI reads the counts until the operation completes: they live with the request.
    const Blocks& kept = pending_blocks_.emplace_back(std::move(b));
    requests_.emplace_back();
    CARNOT_MPI_CHECK(MPI_Ireduce_scatter(in, out, kept.counts.data(), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                                         &requests_.back()));
  }
  void progress() override {
    if (requests_.empty()) return;
    int done = 0;
    CARNOT_MPI_CHECK(MPI_Testall(int(requests_.size()), requests_.data(), &done, MPI_STATUSES_IGNORE));
  }
  void wait_all() override {
    drain();
    if (requests_.empty()) return;
    CARNOT_MPI_CHECK(MPI_Waitall(int(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE));
    requests_.clear();
    pending_blocks_.clear();
  }
  void allreduce_max(double* data, std::int64_t n) override {
    drain();
    CARNOT_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, checked_int(n, "all-reduce"), MPI_DOUBLE, MPI_MAX,
                                   MPI_COMM_WORLD));
  }
  void broadcast(void* data, std::int64_t bytes, int root) override {
    drain();
    CARNOT_MPI_CHECK(MPI_Bcast(data, checked_int(bytes, "broadcast"), MPI_BYTE, root, MPI_COMM_WORLD));
  }
  void scatter(const float* in, float* out, const std::vector<std::int64_t>& counts) override {
    drain();
    const Blocks b = blocks_of(counts, size_, "scatter");
    const std::size_t me = std::size_t(rank_);
    CARNOT_MPI_CHECK(MPI_Scatterv(in, b.counts.data(), b.displs.data(), MPI_FLOAT, out, b.counts[me], MPI_FLOAT, 0,
                                  MPI_COMM_WORLD));
  }
  void barrier() override {
    drain();
    CARNOT_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
  }
  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
  }

 private:
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  MPI_Comm node_ = MPI_COMM_NULL;
  MPI_Op bf16_sum_ = MPI_OP_NULL;
  void drain() {
    if (worker_) worker_->drain();
  }
  std::unique_ptr<CommThread> worker_;  // runs the started collectives, when MPI allows
  std::vector<MPI_Request> requests_;  // started and not yet waited for (no worker)
  std::deque<Blocks> pending_blocks_;   // their counts (a deque keeps them in place)
  bool owns_mpi_ = false;
};

}  // namespace

std::unique_ptr<Comm> make_comm_from_environment() {
  const LaunchEnv env = detect_launch_env();
  if (!env.multi_process()) return make_self_comm();
  return std::make_unique<MpiComm>(env);
}

}  // namespace carnot
