#include "framework/dist/grad_buckets.h"

#include <algorithm>

#include "framework/core/error.h"

namespace carnot {

std::vector<BucketRange> plan_buckets(const std::vector<std::int64_t>& boundaries, std::int64_t n,
                                      std::int64_t bucket_bytes, std::int64_t first_bucket_bytes) {
  CARNOT_CHECK(bucket_bytes > 0 && first_bucket_bytes > 0, "bucket sizes must be positive");
  std::vector<BucketRange> out;
  BucketRange current{0, 0};
  for (std::size_t i = 0; i < boundaries.size(); ++i) {
    const std::int64_t next = i + 1 < boundaries.size() ? boundaries[i + 1] : n;
    current.end = next;
    const std::int64_t cap = out.empty() ? first_bucket_bytes : bucket_bytes;
    if ((current.end - current.begin) * std::int64_t(sizeof(float)) >= cap) {
      out.push_back(current);
      current = BucketRange{next, next};
    }
  }
  if (current.end > current.begin) out.push_back(current);
  return out;
}

void GradBuckets::reduce_scatter_into(float* shard, const std::vector<std::int64_t>& counts, int rank) {
  shard_ = shard;
  shard_counts_.assign(buckets_.size(), std::vector<std::int64_t>(counts.size()));
  shard_offsets_.assign(buckets_.size(), 0);
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    std::int64_t shard_begin = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      const std::int64_t lo = std::max(buckets_[i].begin, shard_begin);
      const std::int64_t hi = std::min(buckets_[i].end, shard_begin + counts[r]);
      shard_counts_[i][r] = std::max<std::int64_t>(0, hi - lo);
      if (int(r) == rank) shard_offsets_[i] = std::clamp<std::int64_t>(lo - shard_begin, 0, counts[r]);
      shard_begin += counts[r];
    }
  }
}

void GradBuckets::start(std::size_t i) {
  const BucketRange& b = buckets_[i];
  if (before_reduce_) before_reduce_(b.begin, b.end);
  if (shard_)
    comm_.start_reduce_scatter_sum(grads_ + b.begin, shard_ + shard_offsets_[i], shard_counts_[i]);
  else
    comm_.start_allreduce_sum(grads_ + b.begin, b.end - b.begin);
}

void GradBuckets::ready_up_to(std::int64_t mark) {
  while (started_ < buckets_.size() && buckets_[started_].end <= mark) start(started_++);
  comm_.progress();
}

// Buckets not started by now are reduced by blocking calls from here, after the started ones (the
// same order on every rank): nothing is left to overlap, and handing them to the communication
// thread would only add its wake-up to the wait.
void GradBuckets::finish() {
  for (; started_ < buckets_.size(); ++started_) {
    const BucketRange& b = buckets_[started_];
    if (before_reduce_) before_reduce_(b.begin, b.end);
    if (shard_)
      comm_.reduce_scatter_sum(grads_ + b.begin, shard_ + shard_offsets_[started_], shard_counts_[started_]);
    else
      comm_.allreduce_sum(grads_ + b.begin, b.end - b.begin);
  }
  comm_.wait_all();
}

}  // namespace carnot
