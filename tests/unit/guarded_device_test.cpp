// The trainer's GPU code path on the guarded device (framework/debug/guarded_device.h): every
// buffer where a GPU would hold it, every copy a GPU run makes, and the host faulting on any other
// touch of device memory. Its op table is the CPU's, so training there must equal the CPU run bit
// for bit — for each objective (ε drawn on the device; x0 targets and Min-SNR, the bound, flow and
// EDM through host staging), each model (MLP, DiT with labels, U-Net with dropout), micro-batches,
// diagnostics, buckets, ZeRO and both optimizers — and its checkpoints must equal the CPU's.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "framework/debug/guarded_device.h"
#include "framework/io/job_spec.h"
#include "framework/io/npy.h"
#include "framework/train/checkpoint.h"
#include "framework/train/trainer.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

namespace fs = std::filesystem;

using test::host_bytes;

TEST(GuardedDevice, OnlyTheOpTableCopiesAndCollectivesTouchDeviceMemory) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        GuardedDevice device;
        const Buffer b(DType::F32, Shape{16}, Device::kCuda);
        b.data<float>()[3] = 1;  // a host write into device memory
      },
      "");
  GuardedDevice device;
  const Buffer b(DType::F32, Shape{1000}, Device::kCuda);
  const std::vector<float> two(1000, 2.0f);
  copy_bytes(b.tensor().raw(), Device::kCuda, two.data(), Device::kCpu, two.size() * sizeof(float));
  device.ops().scale(DType::F32, 1000, 3.0, b.tensor().raw());
  auto self = make_self_comm();
  device.wrap(*self)->allreduce_sum(b.data<float>(), 1000);
  const std::vector<char> back = host_bytes(b.tensor());
  const float* v = reinterpret_cast<const float*>(back.data());
  EXPECT_EQ(v[0], 6.0f);
  EXPECT_EQ(v[999], 6.0f);
  const GuardedDevice::Open open(device);  // a test may look inside
  EXPECT_EQ(b.data<float>()[500], 6.0f);
}

// What a run leaves: its losses and, as bytes, the weights, the EMA and the optimizer state.
struct Outcome {
  std::vector<double> losses;
  std::vector<char> weights, ema;
  std::vector<std::vector<char>> state;
};

Outcome train(const JobSpec& spec, bool guarded, const std::string& checkpoint_dir = "") {
  auto self = make_self_comm();
  std::unique_ptr<GuardedDevice> device;
  std::unique_ptr<Comm> device_comm;
  Ops* ops = &cpu_ops();
  Comm* comm = self.get();
  if (guarded) {
    device = std::make_unique<GuardedDevice>();
    ops = &device->ops();
    device_comm = device->wrap(*self);
    comm = device_comm.get();
  }
  Outcome o;
  Trainer t(spec, *comm, *ops);
  t.run(nullptr);
  o.losses = t.losses();
  o.weights = host_bytes(t.params().values());
  o.ema = host_bytes(t.ema_weights());
  t.gather_optimizer_state();
  for (std::size_t i = 0; i < t.optimizer().state_names().size(); ++i) o.state.push_back(host_bytes(t.whole_state(i)));
  if (!checkpoint_dir.empty()) Checkpointer(checkpoint_dir, 1).save(t, 1);
  return o;
}

void expect_same(const Outcome& cpu, const Outcome& guarded, const std::string& what) {
  EXPECT_EQ(cpu.losses, guarded.losses) << what;
  EXPECT_TRUE(cpu.weights == guarded.weights) << what << ": the weights differ";
  EXPECT_TRUE(cpu.ema == guarded.ema) << what << ": the EMA differs";
  EXPECT_TRUE(cpu.state == guarded.state) << what << ": the optimizer state differs";
}

const char* kMlp = "name: g\ndata: {kind: swissroll}\nmodel: {kind: mlp, hidden: 32, depth: 2}\n"
                   "train: {global_batch: 48, steps: 6}\n";

TEST(GuardedDevice, MlpTrainingEqualsTheCpuForEveryObjective) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"eps, micro-batches, diagnostics", {"train.grad_accum=3", "diagnostics.every=2"}},
      {"x0 with Min-SNR", {"diffusion.objective=x0", "diffusion.min_snr_gamma=5"}},
      {"v", {"diffusion.objective=v"}},
      {"the bound (hybrid, learned variance)",
       {"diffusion.schedule=sohl2015", "diffusion.steps=40", "diffusion.loss=hybrid", "diffusion.variance=learned"}},
      {"flow", {"diffusion.schedule=flow", "diffusion.objective=flow"}},
      {"EDM", {"diffusion.schedule=edm", "diffusion.objective=edm"}},
      {"SGD with momentum, ReLU pairs rescaled",
       {"optimizer.kind=sgd", "optimizer.lr=0.05", "optimizer.momentum=0.9", "model.activation=relu",
        "model.pair_init_scale=1.5", "diagnostics.every=3"}},
      {"buckets and ZeRO on one rank", {"distributed.bucket_mb=0.001", "distributed.zero=1"}},
  };
  for (const auto& [what, overrides] : cases) {
    const JobSpec spec = parse_job_spec(kMlp, "job.yaml", overrides);
    expect_same(train(spec, false), train(spec, true), what);
  }
}

// Images with labels for the class-conditional DiT: N×H×W×C uint8 and uint8 labels.
std::string write_labelled_images(const std::string& dir, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::int64_t n = 40, side = 8, channels = 3;
  std::vector<std::uint8_t> images(static_cast<std::size_t>(n * side * side * channels)),
      labels(static_cast<std::size_t>(n));
  for (auto& v : images) v = std::uint8_t(rng() % 256);
  for (auto& v : labels) v = std::uint8_t(rng() % 5);
  fs::create_directories(dir);
  write_npy_u8(dir + "/x.npy", {n, side, side, channels}, images.data());
  write_npy_u8(dir + "/y.npy", {n}, labels.data());
  return str_cat("data: {kind: npy, path: ", dir, "/x.npy, labels: ", dir, "/y.npy, num_classes: 5, channels: 3, ",
                 "image_size: 8}\n");
}

TEST(GuardedDevice, ImageModelsTrainAsOnTheCpu) {
  const std::string dir = (fs::temp_directory_path() / str_cat("carnot_guarded_", ::getpid())).string();
  const std::string data = write_labelled_images(dir, test::fresh_seed("GuardedDevice.ImageModelsTrainAsOnTheCpu"));
  const std::string dit = "name: d\n" + data +
                          "model: {kind: dit, patch: 2, heads: 2, hidden: 16, depth: 2, class_dropout: 0.2}\n"
                          "train: {global_batch: 6, steps: 4, grad_accum: 2}\ndiagnostics: {every: 2}\n";
  expect_same(train(parse_job_spec(dit, "dit.yaml"), false, dir + "/cpu"),
              train(parse_job_spec(dit, "dit.yaml"), true, dir + "/guarded"), "DiT with labels");
  // The checkpoints the two wrote are the same bytes, file by file.
  for (const char* file : {"model.safetensors", "ema.safetensors", "optimizer.safetensors"}) {
    auto read = [&](const std::string& run) {
      const std::string path = run + "/checkpoints/step_000000004/" + file;
      std::ifstream in(path, std::ios::binary);
      EXPECT_TRUE(in.good()) << path;
      return std::string(std::istreambuf_iterator<char>(in), {});
    };
    EXPECT_TRUE(read(dir + "/cpu") == read(dir + "/guarded")) << file;
  }
  const std::string unet = "name: u\n" + data +
                           "model: {kind: unet, channels: 16, channel_mult: [1, 2], res_blocks: 1, "
                           "attention_resolutions: [4], dropout: 0.1, groups: 4, head_dim: 8}\n"
                           "train: {global_batch: 4, steps: 3}\n";
  expect_same(train(parse_job_spec(unet, "unet.yaml"), false), train(parse_job_spec(unet, "unet.yaml"), true),
              "U-Net with attention and dropout");
  fs::remove_all(dir);
}

// A checkpoint written on the CPU resumes on the device (and the step after equals the CPU's).
TEST(GuardedDevice, ResumesACpuCheckpoint) {
  const std::string dir = (fs::temp_directory_path() / str_cat("carnot_guarded_resume_", ::getpid())).string();
  JobSpec half = parse_job_spec(kMlp, "job.yaml", {"train.steps=3"});
  train(half, false, dir);
  const std::string ckpt = dir + "/checkpoints/step_000000003";
  auto resumed = [&](bool guarded) {
    auto self = make_self_comm();
    std::unique_ptr<GuardedDevice> device = guarded ? std::make_unique<GuardedDevice>() : nullptr;
    std::unique_ptr<Comm> wrapped = guarded ? device->wrap(*self) : nullptr;
    Trainer t(parse_job_spec(kMlp, "job.yaml"), guarded ? *wrapped : *self, guarded ? device->ops() : cpu_ops());
    load_checkpoint(ckpt, t);
    t.scatter_optimizer_state();
    t.set_step(3);
    t.run(nullptr);
    return std::make_pair(t.losses(), host_bytes(t.params().values()));
  };
  const auto cpu = resumed(false), guarded = resumed(true);
  EXPECT_EQ(cpu.first, guarded.first);
  EXPECT_TRUE(cpu.second == guarded.second);
  fs::remove_all(dir);
}

// Nothing is allocated on the device inside the step loop: every step after the first leaves the
// device's allocation count where the first left it (fp32 and bf16, with labels, micro-batches,
// buckets and diagnostics).
TEST(GuardedDevice, TheStepLoopAllocatesNothing) {
  const std::string dir = (fs::temp_directory_path() / str_cat("carnot_guarded_alloc_", ::getpid())).string();
  const std::string data = write_labelled_images(dir, test::fresh_seed("GuardedDevice.TheStepLoopAllocatesNothing"));
  for (const char* precision : {"fp32", "bf16"}) {
    const JobSpec spec = parse_job_spec("name: d\n" + data +
                                            "model: {kind: dit, patch: 2, heads: 2, hidden: 16, depth: 2}\n"
                                            "train: {global_batch: 6, steps: 5, grad_accum: 2}\ndiagnostics: {every: 2}\n"
                                            "distributed: {bucket_mb: 0.001}\ncheckpoint: {every: 1}\n",
                                        "job.yaml", {str_cat("train.precision=", precision)});
    GuardedDevice device;
    auto self = make_self_comm();
    const std::unique_ptr<Comm> comm = device.wrap(*self);
    Trainer t(spec, *comm, device.ops());
    std::vector<std::int64_t> after_step;
    t.run(nullptr, [&](std::int64_t) { after_step.push_back(device.allocations()); });
    ASSERT_EQ(after_step.size(), 5u) << precision;
    EXPECT_GT(after_step[0], 20) << "the model's buffers were counted";
    for (std::size_t s = 1; s < after_step.size(); ++s)
      EXPECT_EQ(after_step[s], after_step[0]) << precision << ": step " << s + 1 << " allocated on the device";
  }
  fs::remove_all(dir);
}

TEST(GuardedDevice, LearnedBetasAreRefusedOnADevice) {
  const JobSpec spec = parse_job_spec(kMlp, "job.yaml",
                                      {"diffusion.schedule=sohl2015", "diffusion.steps=40", "diffusion.loss=vlb",
                                       "diffusion.variance=learned", "diffusion.betas=learned"});
  GuardedDevice device;
  auto self = make_self_comm();
  try {
    Trainer t(spec, *self, device.ops());
    FAIL() << "learned β on a device was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("diffusion.betas learned trains on the CPU only"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace carnot
