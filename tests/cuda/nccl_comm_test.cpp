// NcclComm on one rank and one GPU (NCCL refuses two ranks on one GPU, and the lent hosts have
// one): every collective moves device buffers through NCCL and the result comes back exactly
// (a world of one sums nothing, so any change is a fault of the plumbing: streams, events,
// offsets, dtypes). Host pointers are refused for the float collectives and routed to the host
// communicator for scalars. Skipped with a message when no GPU is usable.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "framework/core/device.h"
#include "framework/core/error.h"
#include "framework/dist/nccl_comm.h"
#include "kernels/bf16.h"
#include "kernels/cuda/cuda_runtime.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

struct DeviceVector {
  explicit DeviceVector(const std::vector<float>& host) : n(host.size()) {
    p = static_cast<float*>(cuda::malloc_device(n * sizeof(float)));
    cuda::copy_to_device(p, host.data(), n * sizeof(float));
  }
  ~DeviceVector() { cuda::free_device(p); }
  std::vector<float> host() const {
    std::vector<float> h(n);
    cuda::copy_to_host(h.data(), p, n * sizeof(float));  // on the legacy stream, after the join
    return h;
  }
  float* p;
  std::size_t n;
};

TEST(NcclComm, OneRankCollectivesOnDeviceBuffers) {
  const DeviceChoice gpu = choose_device("auto", 0);
  if (!gpu.gpu) GTEST_SKIP() << "no usable GPU: " << gpu.description;
  std::printf("running on %s\n", gpu.description.c_str());
  auto self = make_self_comm();
  std::unique_ptr<Comm> nccl = make_nccl_comm(*self, gpu.index);
  EXPECT_EQ(nccl->backend(), "nccl");
  ASSERT_EQ(nccl->size(), 1);

  const std::uint64_t seed = test::fresh_seed("NcclComm.OneRank");
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  for (std::int64_t n : {1, 7, 4099, 1 << 20}) {
    std::vector<float> x(static_cast<std::size_t>(n));
    for (float& v : x) v = normal(rng);
    const std::vector<std::int64_t> counts = {n};
    DeviceVector a(x), b(std::vector<float>(x.size(), -1.0f));
    nccl->allreduce_sum(a.p, n);
    EXPECT_EQ(a.host(), x) << "all-reduce, n " << n;
    nccl->start_allreduce_sum(a.p, n);
    nccl->start_reduce_scatter_sum(a.p, b.p, counts);
    nccl->wait_all();
    EXPECT_EQ(b.host(), x) << "started all-reduce and reduce-scatter, n " << n;
    DeviceVector c(std::vector<float>(x.size(), -1.0f));
    nccl->allgather(b.p, c.p, counts);
    EXPECT_EQ(c.host(), x) << "all-gather, n " << n;
    DeviceVector d(std::vector<float>(x.size(), -1.0f)), e(std::vector<float>(x.size(), -1.0f));
    nccl->scatter(c.p, d.p, counts);
    nccl->gather(d.p, n, counts, e.p);
    EXPECT_EQ(e.host(), x) << "scatter then gather, n " << n;
    nccl->broadcast(e.p, n * 4, 0);
    EXPECT_EQ(e.host(), x) << "broadcast, n " << n;

    // bf16: the buffer's bytes as bf16 words, unchanged by a sum over one rank.
    std::vector<std::uint16_t> h(x.size());
    for (std::size_t i = 0; i < h.size(); ++i) h[i] = float_to_bf16(x[i]);
    auto* dh = static_cast<std::uint16_t*>(cuda::malloc_device(h.size() * 2));
    cuda::copy_to_device(dh, h.data(), h.size() * 2);
    nccl->allreduce_sum_bf16(dh, n);
    std::vector<std::uint16_t> back(h.size());
    cuda::copy_to_host(back.data(), dh, h.size() * 2);
    cuda::free_device(dh);
    EXPECT_EQ(back, h) << "bf16 all-reduce, n " << n;
  }

  // Host scalars go to the host communicator; host floats are refused with the call's name.
  double scalars[2] = {1.5, -2.0};
  nccl->allreduce_sum(scalars, 2);
  nccl->allreduce_max(scalars, 2);
  EXPECT_EQ(scalars[0], 1.5);
  std::vector<float> on_host(8, 1.0f);
  try {
    nccl->allreduce_sum(on_host.data(), 8);
    ADD_FAILURE() << "a host buffer was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs a device buffer"), std::string::npos) << e.what();
  }
  nccl->barrier();
}

}  // namespace
}  // namespace carnot
