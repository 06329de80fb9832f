// Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a
// counter-based generator. Every random number in Carnot is a pure function of
// (seed, step, index, stream), so it does not depend on how work is split across ranks.
// Header-only and free of host-only calls, so the same code compiles for the device.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define CARNOT_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define CARNOT_HOST_DEVICE inline
#endif

namespace carnot {

struct Philox4x32 {
  std::uint32_t v[4];
};

// Which consumer draws: each has its own stream so that adding one never shifts another.
enum class RngStream : std::uint32_t {
  kData = 1,           // training data points
  kDiffusionTime = 2,  // t of each training sample
  kNoise = 3,          // epsilon of each training sample
  kInit = 4,           // parameter initialisation
  kSamplerInit = 5,    // x_T of each generated sample
  kSamplerNoise = 6,   // noise added at each sampler step
  kEvalData = 7,       // fresh data for evaluation
  kBoundNoise = 8,     // x_t drawn for the variational bound's terms
  kLabelDrop = 9,      // whether a training label is dropped to the null class
  kFlip = 10,          // whether a training image is mirrored
  kShuffle = 11,       // the order of each epoch over a finite data set
  kDropout = 12,       // dropout masks inside a network (DropoutKey's block tells the layers apart)
};

CARNOT_HOST_DEVICE std::uint32_t philox_mulhilo(std::uint32_t a, std::uint32_t b,
                                                std::uint32_t* hi) {
  const std::uint64_t p = std::uint64_t(a) * std::uint64_t(b);
  *hi = std::uint32_t(p >> 32);
  return std::uint32_t(p);
}

// The raw generator: 10 rounds over a 128-bit counter under a 64-bit key.
CARNOT_HOST_DEVICE Philox4x32 philox4x32_10(Philox4x32 ctr, std::uint32_t key0,
                                            std::uint32_t key1) {
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, hi1;
    const std::uint32_t lo0 = philox_mulhilo(kM0, ctr.v[0], &hi0);
    const std::uint32_t lo1 = philox_mulhilo(kM1, ctr.v[2], &hi1);
    ctr = Philox4x32{{hi1 ^ ctr.v[1] ^ key0, lo1, hi0 ^ ctr.v[3] ^ key1, lo0}};
    key0 += kW0;
    key1 += kW1;
  }
  return ctr;
}

// Carnot's keying: the seed is the key; the counter is (block, index, step, stream), where block
// numbers the successive groups of four words that one (step, index, stream) consumes.
CARNOT_HOST_DEVICE Philox4x32 philox_draw(std::uint64_t seed, std::uint32_t step,
                                          std::uint32_t index, RngStream stream,
                                          std::uint32_t block) {
  return philox4x32_10(Philox4x32{{block, index, step, std::uint32_t(stream)}},
                       std::uint32_t(seed), std::uint32_t(seed >> 32));
}

}  // namespace carnot
