// safetensors and .npy: round trips and the exact byte layout other readers rely on.
#include <gtest/gtest.h>

#include "framework/io/tensorboard.h"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <cstring>
#include <unistd.h>

#include "framework/core/error.h"
#include "framework/dist/launcher.h"
#include "framework/io/file_util.h"
#include "framework/io/npy.h"
#include "framework/io/safetensors.h"

namespace carnot {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("carnot_test_" + std::to_string(::getpid()) + "_" + name)).string();
}

TEST(Safetensors, RoundTripAndLayout) {
  const std::string path = temp_path("w.safetensors");
  SafetensorsTensor a{"layer.weight", DType::F32, {2, 3}, {}};
  const float av[6] = {1, 2, 3, 4, 5, 6};
  a.bytes.assign(reinterpret_cast<const char*>(av), reinterpret_cast<const char*>(av) + sizeof av);
  SafetensorsTensor b{"layer.bias", DType::F64, {1}, {}};
  const double bv = -2.5;
  b.bytes.assign(reinterpret_cast<const char*>(&bv), reinterpret_cast<const char*>(&bv) + 8);
  write_safetensors(path, {a, b}, {{"model.kind", "mlp"}});

  const std::string raw = read_file(path);
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= std::uint64_t(std::uint8_t(raw[i])) << (8 * i);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(raw.size(), 8 + n + sizeof av + 8);
  const auto header = nlohmann::json::parse(raw.substr(8, n));
  EXPECT_EQ(header["layer.weight"]["dtype"], "F32");
  EXPECT_EQ(header["layer.weight"]["data_offsets"], nlohmann::json::array({0, 24}));
  EXPECT_EQ(header["layer.bias"]["data_offsets"], nlohmann::json::array({24, 32}));
  EXPECT_EQ(header["__metadata__"]["model.kind"], "mlp");

  const SafetensorsFile f = read_safetensors(path);
  EXPECT_EQ(f.get("layer.weight").bytes, a.bytes);
  EXPECT_EQ(f.get("layer.bias").shape, std::vector<std::int64_t>{1});
  EXPECT_EQ(f.metadata.at("model.kind"), "mlp");
  EXPECT_THROW(f.get("missing"), Error);
  std::filesystem::remove(path);
}

TEST(Safetensors, TruncatedFileIsAClearError) {
  const std::string path = temp_path("bad.safetensors");
  write_file_atomically(path, std::string("\xff\x00\x00\x00\x00\x00\x00\x00{}", 10));
  try {
    read_safetensors(path);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("exceeds the file"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

TEST(Npy, RoundTripAndAlignedHeader) {
  const std::string path = temp_path("x.npy");
  const float v[6] = {0.5f, -1, 2, 3, 4, 5};
  write_npy(path, DType::F32, {3, 2}, v);
  const std::string raw = read_file(path);
  EXPECT_EQ(raw.substr(0, 6), "\x93NUMPY");
  const std::size_t header_len = std::uint8_t(raw[8]) | (std::size_t(std::uint8_t(raw[9])) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);
  EXPECT_NE(raw.find("'shape': (3, 2)"), std::string::npos);
  const NpyArray a = read_npy(path);
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{3, 2}));
  EXPECT_EQ(std::memcmp(a.bytes.data(), v, sizeof v), 0);
  std::filesystem::remove(path);
}

class LauncherEnv : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const char* v : {"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "SLURM_STEP_ID",
                          "SLURM_NTASKS", "SLURM_PROCID", "SLURM_LOCALID", "PMI_SIZE", "PMI_RANK"})
      unsetenv(v);
  }
};

TEST_F(LauncherEnv, NoLauncherIsWorldOfOne) { EXPECT_EQ(detect_launch_env().launcher, "none"); }

TEST_F(LauncherEnv, SlurmBatchShellIsNotMultiProcess) {
  setenv("SLURM_NTASKS", "4", 1);
  setenv("SLURM_PROCID", "0", 1);
  EXPECT_EQ(detect_launch_env().launcher, "none");  // no SLURM_STEP_ID: the batch script itself
  setenv("SLURM_STEP_ID", "0", 1);
  setenv("SLURM_PROCID", "3", 1);
  const LaunchEnv env = detect_launch_env();
  EXPECT_EQ(env.launcher, "slurm");
  EXPECT_EQ(env.rank, 3);
  EXPECT_EQ(env.size, 4);
}

TEST_F(LauncherEnv, InconsistentVariablesAreAnError) {
  setenv("PMI_SIZE", "2", 1);
  setenv("PMI_RANK", "5", 1);
  EXPECT_THROW(detect_launch_env(), Error);
  setenv("PMI_RANK", "x", 1);
  EXPECT_THROW(detect_launch_env(), Error);
}

// TFRecord's checksum: CRC-32C's check value (RFC 3720) and an empty input.
TEST(TensorBoard, Crc32cCheckValue) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
}

}  // namespace
}  // namespace carnot
