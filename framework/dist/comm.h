// Comm: the collectives the trainer needs, over flat buffers. dist/ knows nothing of models.
// SelfComm is the world of one process; MpiComm runs over MPI_COMM_WORLD on host buffers.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace carnot {

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int local_rank() const = 0;  // among the ranks on this node
  virtual int local_size() const = 0;
  virtual std::string backend() const = 0;

  // In-place sums across ranks; every rank ends with the same values.
  virtual void allreduce_sum(float* data, std::int64_t n) = 0;
  virtual void allreduce_sum(double* data, std::int64_t n) = 0;
  // bfloat16 (kernels/bf16.h) in place: each partial sum is rounded to bf16, as NCCL's is.
  virtual void allreduce_sum_bf16(std::uint16_t* data, std::int64_t n) = 0;
  // Concatenates each rank's `count` floats, in rank order, into `out` on rank 0 (counts[r] is
  // rank r's count; out may be null elsewhere).
  virtual void gather(const float* data, std::int64_t count, const std::vector<std::int64_t>& counts,
                      float* out) = 0;
  // ZeRO's pair, over a flat buffer split into one contiguous shard per rank (counts[r] elements
  // for rank r, in rank order; shard_counts gives the usual split):
  //   reduce_scatter_sum: `in` (the whole buffer, every rank) summed across ranks; rank r receives
  //                       its shard into `out` (counts[rank] elements).
  //   allgather:          each rank's shard `in` (counts[rank] elements) into the whole `out` on
  //                       every rank; `in` may be the shard's own place in `out`.
  // reduce_scatter_sum's in and out must not overlap.
  virtual void reduce_scatter_sum(const float* in, float* out, const std::vector<std::int64_t>& counts) = 0;
  virtual void allgather(const float* in, float* out, const std::vector<std::int64_t>& counts) = 0;
  // Nonblocking in-place sums: start_allreduce_sum begins one and returns at once (data must stay
  // untouched until wait_all); progress lets started operations advance (MPI moves them only
  // inside MPI calls); wait_all completes every started one, in the order started.
  virtual void start_allreduce_sum(float* data, std::int64_t n) = 0;
  // The nonblocking reduce_scatter_sum, for ZeRO's buckets: `in` holds sum(counts) elements, rank
  // r's part of their sum goes to `out` (counts[rank] elements; zero counts are fine).
  virtual void start_reduce_scatter_sum(const float* in, float* out, const std::vector<std::int64_t>& counts) = 0;
  virtual void progress() = 0;
  virtual void wait_all() = 0;
  // In-place maxima across ranks, for small flags and scalars.
  virtual void allreduce_max(double* data, std::int64_t n) = 0;
  virtual void broadcast(void* data, std::int64_t bytes, int root) = 0;
  // gather's inverse: rank 0's `in` (sum(counts) elements; may be null elsewhere) cut into one
  // contiguous block per rank, rank r's into `out` (counts[r] elements).
  virtual void scatter(const float* in, float* out, const std::vector<std::int64_t>& counts) = 0;
  virtual void barrier() = 0;
  // Brings every rank down with this exit code; never returns.
  [[noreturn]] virtual void abort(int code) = 0;
};

// n elements in `world` contiguous shards, the first n mod world one larger.
std::vector<std::int64_t> shard_counts(std::int64_t n, int world);

// The world of one process, for runs without a launcher.
std::unique_ptr<Comm> make_self_comm();

// The communicator the launcher set up: MPI when started by mpirun, srun or another PMI launcher,
// else a world of one. Initialises MPI when needed (and finalises it when the Comm is destroyed).
std::unique_ptr<Comm> make_comm_from_environment();

}  // namespace carnot
