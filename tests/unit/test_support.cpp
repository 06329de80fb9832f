#include "tests/unit/test_support.h"

#include <cstdio>
#include <cstdlib>
#include <random>

namespace carnot::test {

std::uint64_t fresh_seed(const char* what) {
  std::uint64_t seed;
  if (const char* s = std::getenv("CARNOT_TEST_SEED")) {
    seed = std::strtoull(s, nullptr, 10);
  } else {
    std::random_device rd;
    seed = (std::uint64_t(rd()) << 32) ^ rd();
  }
  std::printf("[seed] %s: %llu (replay with CARNOT_TEST_SEED=%llu)\n", what,
              (unsigned long long)seed, (unsigned long long)seed);
  return seed;
}

std::vector<char> host_bytes(const Tensor& t) {
  if (t.raw() == nullptr) return {};
  std::vector<char> out(t.bytes());
  copy_bytes(out.data(), Device::kCpu, t.raw(), t.device(), t.bytes());
  return out;
}

std::vector<float> host_floats(const Tensor& t) {
  std::vector<float> out(std::size_t(t.numel()));
  copy_bytes(out.data(), Device::kCpu, t.data<float>(), t.device(), out.size() * sizeof(float));
  return out;
}

}  // namespace carnot::test
