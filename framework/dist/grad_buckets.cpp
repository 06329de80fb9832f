#include "framework/dist/grad_buckets.h"

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

void GradBuckets::ready_up_to(std::int64_t mark) {
  while (started_ < buckets_.size() && buckets_[started_].end <= mark) {
    const BucketRange& b = buckets_[started_++];
    comm_.start_allreduce_sum(grads_ + b.begin, b.end - b.begin);
  }
  comm_.progress();
}

void GradBuckets::finish() {
  while (started_ < buckets_.size()) {
    const BucketRange& b = buckets_[started_++];
    comm_.start_allreduce_sum(grads_ + b.begin, b.end - b.begin);
  }
  comm_.wait_all();
}

}  // namespace carnot
