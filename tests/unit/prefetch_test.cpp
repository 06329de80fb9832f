// DataPrefetch hands over exactly what an in-place fill gives, fills in place when the prefetched
// piece is not the one asked for, and passes a fill's error on.
#include <gtest/gtest.h>

#include <stdexcept>

#include "framework/core/error.h"
#include "framework/data/image_dataset.h"
#include "framework/train/prefetch.h"

namespace carnot {
namespace {

TEST(DataPrefetch, PrefetchedEqualsInPlace) {
  DataSpec spec;
  spec.kind = "dead_leaves";
  spec.image_size = 8;
  const auto data = make_dataset(spec, 16);
  const std::int64_t dim = data->dim();
  DataPrefetch ahead(*data, 42, 16, true), in_place(*data, 42, 16, false);
  std::vector<float> a(std::size_t(16 * dim)), b(a.size());
  ahead.start(3, 5, 11);
  ahead.get(3, 5, 11, a.data(), nullptr);  // the prefetched piece
  in_place.get(3, 5, 11, b.data(), nullptr);
  EXPECT_EQ(a, b);
  ahead.start(4, 0, 16);
  ahead.get(7, 2, 9, a.data(), nullptr);  // another piece: filled now
  in_place.get(7, 2, 9, b.data(), nullptr);
  EXPECT_EQ(a, b);
}

class Failing final : public Dataset {
 public:
  std::int64_t dim() const override { return 4; }
  void fill(std::uint64_t, std::uint32_t, std::uint32_t, std::int64_t, RngStream, float*) const override {
    throw Error("the disk went away");
  }
};

TEST(DataPrefetch, FillErrorsComeBack) {
  Failing data;
  DataPrefetch ahead(data, 1, 4, true);
  ahead.start(0, 0, 4);
  std::vector<float> x(16);
  EXPECT_THROW(ahead.get(0, 0, 4, x.data(), nullptr), Error);
}

}  // namespace
}  // namespace carnot
