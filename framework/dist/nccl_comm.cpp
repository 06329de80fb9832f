// NcclComm (see nccl_comm.h). Every NCCL and CUDA call is checked; a failure throws naming the
// rank, the call, NCCL's text and its last error message.
#include "framework/dist/nccl_comm.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <cstdlib>

#include "framework/core/error.h"

namespace carnot {

namespace {

#define CARNOT_NCCL_CHECK(call)                                                                      \
  do {                                                                                               \
    const ncclResult_t carnot_nccl_rc = (call);                                                      \
    if (carnot_nccl_rc != ncclSuccess)                                                               \
      throw ::carnot::Error(::carnot::str_cat("rank ", rank_, ": ", #call, " failed: ",             \
                                              ncclGetErrorString(carnot_nccl_rc), " (",              \
                                              comm_ ? ncclGetLastError(comm_) : "", ")"));           \
  } while (0)

#define CARNOT_CUDA_RT_CHECK(call)                                                             \
  do {                                                                                         \
    const cudaError_t carnot_cuda_rc = (call);                                                 \
    if (carnot_cuda_rc != cudaSuccess)                                                         \
      throw ::carnot::Error(::carnot::str_cat("rank ", rank_, ": ", #call, " failed: ",       \
                                              cudaGetErrorName(carnot_cuda_rc), " (",          \
                                              cudaGetErrorString(carnot_cuda_rc), ")"));       \
  } while (0)

bool is_device_pointer(const void* p) {
  cudaPointerAttributes a{};
  if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
    cudaGetLastError();  // clear it: an unknown pointer is a host pointer
    return false;
  }
  return a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged;
}

class NcclComm final : public Comm {
 public:
  NcclComm(Comm& host, int device) : host_(host), rank_(host.rank()) {
    CARNOT_CUDA_RT_CHECK(cudaSetDevice(device));
    ncclUniqueId id{};
    if (rank_ == 0) CARNOT_NCCL_CHECK(ncclGetUniqueId(&id));
    host_.broadcast(&id, sizeof id, 0);
    CARNOT_NCCL_CHECK(ncclCommInitRank(&comm_, host_.size(), id, rank_));
    CARNOT_CUDA_RT_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    CARNOT_CUDA_RT_CHECK(cudaEventCreateWithFlags(&ready_, cudaEventDisableTiming));
    CARNOT_CUDA_RT_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
  }
  ~NcclComm() override {
    if (stream_) cudaStreamSynchronize(stream_);
    if (comm_) ncclCommDestroy(comm_);
    if (ready_) cudaEventDestroy(ready_);
    if (done_) cudaEventDestroy(done_);
    if (stream_) cudaStreamDestroy(stream_);
  }

  int rank() const override { return rank_; }
  int size() const override { return host_.size(); }
  int local_rank() const override { return host_.local_rank(); }
  int local_size() const override { return host_.local_size(); }
  std::string backend() const override { return "nccl"; }

  void set_compute_stream(cudaStream_t s) { compute_ = s; }

  void allreduce_sum(float* data, std::int64_t n) override {
    on_device(data, "all-reduce");
    after_compute();
    CARNOT_NCCL_CHECK(ncclAllReduce(data, data, std::size_t(n), ncclFloat, ncclSum, comm_, stream_));
    join_compute();
  }
  void allreduce_sum(double* data, std::int64_t n) override {
    if (!is_device_pointer(data)) return host_.allreduce_sum(data, n);
    after_compute();
    CARNOT_NCCL_CHECK(ncclAllReduce(data, data, std::size_t(n), ncclDouble, ncclSum, comm_, stream_));
    join_compute();
  }
  void allreduce_sum_bf16(std::uint16_t* data, std::int64_t n) override {
    on_device(data, "bf16 all-reduce");
    after_compute();
    CARNOT_NCCL_CHECK(ncclAllReduce(data, data, std::size_t(n), ncclBfloat16, ncclSum, comm_, stream_));
    join_compute();
  }
  void allreduce_max(double* data, std::int64_t n) override {
    if (!is_device_pointer(data)) return host_.allreduce_max(data, n);
    after_compute();
    CARNOT_NCCL_CHECK(ncclAllReduce(data, data, std::size_t(n), ncclDouble, ncclMax, comm_, stream_));
    join_compute();
  }
  void gather(const float* data, std::int64_t count, const std::vector<std::int64_t>& counts, float* out) override {
    on_device(data, "gather");
    if (rank_ == 0) on_device(out, "gather");
    after_compute();
    CARNOT_NCCL_CHECK(ncclGroupStart());
    CARNOT_NCCL_CHECK(ncclSend(data, std::size_t(count), ncclFloat, 0, comm_, stream_));
    if (rank_ == 0)
      for (std::int64_t r = 0, at = 0; r < size(); at += counts[std::size_t(r)], ++r)
        CARNOT_NCCL_CHECK(ncclRecv(out + at, std::size_t(counts[std::size_t(r)]), ncclFloat, r, comm_, stream_));
    CARNOT_NCCL_CHECK(ncclGroupEnd());
    join_compute();
  }
  void scatter(const float* in, float* out, const std::vector<std::int64_t>& counts) override {
    on_device(out, "scatter");
    if (rank_ == 0) on_device(in, "scatter");
    after_compute();
    CARNOT_NCCL_CHECK(ncclGroupStart());
    if (rank_ == 0)
      for (std::int64_t r = 0, at = 0; r < size(); at += counts[std::size_t(r)], ++r)
        CARNOT_NCCL_CHECK(ncclSend(in + at, std::size_t(counts[std::size_t(r)]), ncclFloat, r, comm_, stream_));
    CARNOT_NCCL_CHECK(ncclRecv(out, std::size_t(counts[std::size_t(rank_)]), ncclFloat, 0, comm_, stream_));
    CARNOT_NCCL_CHECK(ncclGroupEnd());
    join_compute();
  }
  void reduce_scatter_sum(const float* in, float* out, const std::vector<std::int64_t>& counts) override {
    start_reduce_scatter_sum(in, out, counts);
    join_compute();
  }
  void allgather(const float* in, float* out, const std::vector<std::int64_t>& counts) override {
    on_device(in, "all-gather");
    on_device(out, "all-gather");
    after_compute();
    if (equal(counts)) {
      CARNOT_NCCL_CHECK(ncclAllGather(in, out, std::size_t(counts[0]), ncclFloat, comm_, stream_));
    } else {  // uneven shards: one broadcast per rank's block, grouped
      CARNOT_NCCL_CHECK(ncclGroupStart());
      for (std::int64_t r = 0, at = 0; r < size(); at += counts[std::size_t(r)], ++r)
        CARNOT_NCCL_CHECK(ncclBroadcast(r == rank_ ? in : out + at, out + at, std::size_t(counts[std::size_t(r)]),
                                        ncclFloat, r, comm_, stream_));
      CARNOT_NCCL_CHECK(ncclGroupEnd());
    }
    join_compute();
  }
  void start_allreduce_sum(float* data, std::int64_t n) override {
    on_device(data, "all-reduce");
    after_compute();
    CARNOT_NCCL_CHECK(ncclAllReduce(data, data, std::size_t(n), ncclFloat, ncclSum, comm_, stream_));
  }
  void start_reduce_scatter_sum(const float* in, float* out, const std::vector<std::int64_t>& counts) override {
    on_device(in, "reduce-scatter");
    on_device(out, "reduce-scatter");
    after_compute();
    if (equal(counts)) {
      CARNOT_NCCL_CHECK(ncclReduceScatter(in, out, std::size_t(counts[0]), ncclFloat, ncclSum, comm_, stream_));
    } else {  // uneven shards: one reduce to each rank's block, grouped
      CARNOT_NCCL_CHECK(ncclGroupStart());
      for (std::int64_t r = 0, at = 0; r < size(); at += counts[std::size_t(r)], ++r)
        CARNOT_NCCL_CHECK(ncclReduce(in + at, r == rank_ ? out : nullptr, std::size_t(counts[std::size_t(r)]),
                                     ncclFloat, ncclSum, r, comm_, stream_));
      CARNOT_NCCL_CHECK(ncclGroupEnd());
    }
  }
  void progress() override {}  // NCCL's kernels progress by themselves
  void wait_all() override { join_compute(); }
  void broadcast(void* data, std::int64_t bytes, int root) override {
    if (!is_device_pointer(data)) return host_.broadcast(data, bytes, root);
    after_compute();
    CARNOT_NCCL_CHECK(ncclBroadcast(data, data, std::size_t(bytes), ncclUint8, root, comm_, stream_));
    join_compute();
  }
  void barrier() override {
    CARNOT_CUDA_RT_CHECK(cudaStreamSynchronize(stream_));
    host_.barrier();
  }
  [[noreturn]] void abort(int code) override {
    ncclCommAbort(comm_);  // unblocks kernels waiting for a dead peer
    comm_ = nullptr;
    host_.abort(code);
    std::_Exit(code);
  }

 private:
  void on_device(const void* p, const char* what) const {
    if (!is_device_pointer(p))
      throw Error(str_cat("rank ", rank_, ": the nccl backend's ", what,
                          " needs a device buffer, and was given a host pointer (use backend mpi for host buffers)"));
  }
  static bool equal(const std::vector<std::int64_t>& c) {
    return std::all_of(c.begin(), c.end(), [&](std::int64_t x) { return x == c[0]; });
  }
  // NCCL's stream waits for what the compute stream has queued...
  void after_compute() {
    CARNOT_CUDA_RT_CHECK(cudaEventRecord(ready_, compute_));
    CARNOT_CUDA_RT_CHECK(cudaStreamWaitEvent(stream_, ready_, 0));
  }
  // ...and the compute stream for what NCCL's has.
  void join_compute() {
    CARNOT_CUDA_RT_CHECK(cudaEventRecord(done_, stream_));
    CARNOT_CUDA_RT_CHECK(cudaStreamWaitEvent(compute_, done_, 0));
  }

  Comm& host_;
  int rank_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr, compute_ = nullptr;
  cudaEvent_t ready_ = nullptr, done_ = nullptr;
};

}  // namespace

bool nccl_available() { return true; }

std::unique_ptr<Comm> make_nccl_comm(Comm& host, int device) { return std::make_unique<NcclComm>(host, device); }

void set_compute_stream(Comm& comm, void* stream) {
  auto* nccl = dynamic_cast<NcclComm*>(&comm);
  if (!nccl) throw Error("set_compute_stream: the communicator is " + comm.backend() + ", not nccl");
  nccl->set_compute_stream(static_cast<cudaStream_t>(stream));
}

}  // namespace carnot
