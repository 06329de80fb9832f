// Gradient buckets, as PyTorch DDP's Reducer has them: the flat gradient buffer is cut, on
// parameter boundaries, into contiguous buckets of about bucket_bytes (the first one smaller, so
// that communication starts early). Backward produces gradients from the start of the buffer to its
// end (the layout is reverse registration order); as it reports how far the final gradients reach,
// every bucket wholly below that mark starts its nonblocking all-reduce, in bucket order, while
// backward goes on. finish() reduces the rest and waits for all. Every rank cuts the same buckets
// and starts them in the same order.
//
// Under ZeRO (reduce_scatter_into) a bucket is reduce-scattered instead of all-reduced: each rank
// receives the sum of the bucket's part that falls in its shard of the flat buffer, into its place
// in the shard. Summed over the buckets, that is one reduce-scatter of the whole buffer.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "framework/dist/comm.h"

namespace carnot {

struct BucketRange {
  std::int64_t begin = 0, end = 0;  // elements of the flat buffer
};

// boundaries: each parameter's first element in the flat buffer, ascending; n: the buffer's size.
std::vector<BucketRange> plan_buckets(const std::vector<std::int64_t>& boundaries, std::int64_t n,
                                      std::int64_t bucket_bytes, std::int64_t first_bucket_bytes);

class GradBuckets {
 public:
  GradBuckets(Comm& comm, float* grads, std::vector<BucketRange> buckets)
      : comm_(comm), grads_(grads), buckets_(std::move(buckets)) {}
  const std::vector<BucketRange>& buckets() const { return buckets_; }
  // ZeRO: rank r's shard is elements [sum(counts[<r]), +counts[r]) of the buffer; its summed
  // gradients go to `shard` (counts[rank] elements).
  void reduce_scatter_into(float* shard, const std::vector<std::int64_t>& counts, int rank);

  void begin_step() { started_ = 0; }
  // Called with each bucket's range [begin, end) just before it is reduced, while the buffer still
  // holds this rank's own gradient there (diagnostics measure it; the reduction overwrites it).
  // Null: nothing is called.
  using BeforeReduce = std::function<void(std::int64_t begin, std::int64_t end)>;
  void set_before_reduce(BeforeReduce hook) { before_reduce_ = std::move(hook); }
  // Gradients [0, mark) are final: start every bucket that lies within.
  void ready_up_to(std::int64_t mark);
  // Reduces the buckets not yet started (blocking, after the started ones) and waits for all.
  void finish();
  std::size_t started() const { return started_; }

 private:
  Comm& comm_;
  float* grads_;
  std::vector<BucketRange> buckets_;
  std::size_t started_ = 0;
  BeforeReduce before_reduce_;
  void start(std::size_t bucket);
  // ZeRO: the shard and, per bucket, each rank's count and this rank's offset into its shard.
  float* shard_ = nullptr;
  std::vector<std::vector<std::int64_t>> shard_counts_;
  std::vector<std::int64_t> shard_offsets_;
};

}  // namespace carnot
