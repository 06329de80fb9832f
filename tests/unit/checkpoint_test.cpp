// Checkpoints: exact resume, fallback past damaged checkpoints, and crashes while writing.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "framework/io/file_util.h"
#include "framework/train/checkpoint.h"

namespace carnot {
namespace {

namespace fs = std::filesystem;

JobSpec job(std::int64_t steps, std::int64_t every) {
  JobSpec s;
  s.name = std::string(2, 'c');
  s.model.hidden = 32;
  s.model.depth = 2;
  s.train.global_batch = 64;
  s.train.steps = steps;
  s.checkpoint.every = every;
  return s;
}

std::string fresh_dir(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("carnot_ckpt_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(p);
  fs::create_directories(p / "checkpoints");
  return p.string();
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.bytes() == b.bytes() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

// Trains `spec` from scratch, checkpointing into dir.
void train_with_checkpoints(const JobSpec& spec, const std::string& dir, Checkpointer* ck = nullptr) {
  auto comm = make_self_comm();
  Trainer t(spec, *comm, cpu_ops());
  Checkpointer own(dir, spec.checkpoint.keep);
  Checkpointer& c = ck ? *ck : own;
  t.run(nullptr, [&](std::int64_t) { c.save(t, 1); });
}

// 200 steps straight equal 100 steps, checkpoint, resume in a new trainer, 100 more: bitwise, for
// AdamW and for SGD with momentum (whose state is its momentum buffer).
TEST(Checkpoint, ResumeIsBitwiseExact) {
  for (const char* kind : {"adamw", "sgd"}) {
    auto with_optimizer = [&](JobSpec s) {
      s.optimizer.kind = kind;
      if (s.optimizer.kind == "sgd") s.optimizer.lr = 0.05, s.optimizer.momentum = 0.9, s.optimizer.weight_decay = 1e-3;
      if (s.optimizer.kind == "sgd")  // a schedule: a function of the step, so the halves agree
        s.optimizer.warmup_steps = 30, s.optimizer.schedule = "cosine", s.optimizer.min_lr = 0.005,
        s.optimizer.decay_steps = 200;
      return s;
    };
    auto comm = make_self_comm();
    Trainer straight(with_optimizer(job(200, 1000)), *comm, cpu_ops());
    straight.run(nullptr);

    const std::string dir = fresh_dir("exact");
    train_with_checkpoints(with_optimizer(job(100, 100)), dir);
    Trainer resumed(with_optimizer(job(200, 1000)), *comm, cpu_ops());
    load_checkpoint(dir + "/checkpoints/step_000000100", resumed);
    EXPECT_EQ(resumed.step(), 100);
    resumed.run(nullptr);
    EXPECT_TRUE(same_bytes(straight.params().values(), resumed.params().values())) << kind;
    EXPECT_TRUE(same_bytes(straight.ema_weights(), resumed.ema_weights())) << kind;
    const std::vector<std::string> names = straight.optimizer().state_names();
    EXPECT_EQ(names.size(), std::string(kind) == "adamw" ? 2u : 1u);
    for (std::size_t i = 0; i < names.size(); ++i)
      EXPECT_TRUE(same_bytes(straight.optimizer().state(i), resumed.optimizer().state(i))) << kind << " " << names[i];
    EXPECT_EQ(straight.losses().back(), resumed.losses().back()) << kind;
    fs::remove_all(dir);
  }
}

TEST(Checkpoint, LayoutLatestAndKeep) {
  JobSpec spec = job(50, 10);
  spec.checkpoint.keep = 2;
  const std::string dir = fresh_dir("keep");
  train_with_checkpoints(spec, dir);
  EXPECT_EQ(read_file(dir + "/checkpoints/latest"), "step_000000050\n");
  EXPECT_TRUE(fs::exists(dir + "/checkpoints/step_000000050/state.json"));
  EXPECT_TRUE(fs::exists(dir + "/checkpoints/step_000000040/optimizer.safetensors"));
  EXPECT_FALSE(fs::exists(dir + "/checkpoints/step_000000030"));
  EXPECT_EQ(verify_checkpoint(dir + "/checkpoints/step_000000050"), "");
  EXPECT_EQ(checkpoint_step(dir + "/checkpoints/step_000000040"), 40);
  fs::remove_all(dir);
}

// Each kind of damage to the newest checkpoint makes the search fall back to the previous one,
// naming what was wrong.
TEST(Checkpoint, DamagedNewestFallsBackNamingTheProblem) {
  struct Damage {
    const char* file;
    const char* expect;
    void (*apply)(const std::string& path);
  };
  const Damage damages[] = {
      {"model.safetensors", "model.safetensors: ", [](const std::string& p) {
         fs::resize_file(p, fs::file_size(p) / 2);  // truncated
       }},
      {"ema.safetensors", "ema.safetensors: checksum mismatch", [](const std::string& p) {
         std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
         f.seekg(-5, std::ios::end);
         const char c = char(f.get() ^ 0x01);  // one flipped bit in the data
         f.seekp(-5, std::ios::end);
         f.put(c);
       }},
      {"optimizer.safetensors", "optimizer.safetensors: missing", [](const std::string& p) { fs::remove(p); }},
      {"state.json", "state.json: checksum mismatch", [](const std::string& p) {
         std::string s = read_file(p);
         s.replace(s.find("\"step\": 20"), 10, "\"step\": 21");
         write_file_atomically(p, s);
       }},
  };
  for (const Damage& d : damages) {
    const std::string dir = fresh_dir(std::string("damage_") + d.file);
    train_with_checkpoints(job(20, 10), dir);
    d.apply(dir + "/checkpoints/step_000000020/" + d.file);
    std::vector<std::string> skipped;
    const auto good = newest_good_checkpoint(dir, &skipped);
    ASSERT_TRUE(good.has_value()) << d.file;
    EXPECT_EQ(fs::path(*good).filename(), "step_000000010") << d.file;
    ASSERT_EQ(skipped.size(), 1u) << d.file;
    EXPECT_NE(skipped[0].find(std::string("step_000000020: ") + d.expect), std::string::npos) << skipped[0];
    fs::remove_all(dir);
  }
}

// A crash between files leaves `latest` naming the previous complete checkpoint, and the
// half-written one is never chosen.
TEST(Checkpoint, CrashWhileWritingKeepsLatestComplete) {
  const std::string dir = fresh_dir("crash");
  Checkpointer ck(dir, 3);
  ck.after_file_written = [](const std::string& file) {
    static int calls = 0;
    if (file == "ema.safetensors" && ++calls == 3) throw std::runtime_error("simulated crash");
  };
  EXPECT_THROW(train_with_checkpoints(job(30, 10), dir, &ck), std::runtime_error);
  EXPECT_EQ(read_file(dir + "/checkpoints/latest"), "step_000000020\n");
  EXPECT_FALSE(fs::exists(dir + "/checkpoints/step_000000030"));
  std::vector<std::string> skipped;
  const auto good = newest_good_checkpoint(dir, &skipped);
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(fs::path(*good).filename(), "step_000000020");
  EXPECT_TRUE(skipped.empty());
  fs::remove_all(dir);
}

TEST(Checkpoint, ResumeIncompatibilitiesNameTheKeys) {
  JobSpec a = job(100, 10), b = job(300, 50);
  b.log.every = 7;
  EXPECT_TRUE(resume_incompatibilities(a, b).empty());
  b.optimizer.lr = 2e-4;
  b.model.hidden = 64;
  const auto diffs = resume_incompatibilities(a, b);
  ASSERT_EQ(diffs.size(), 2u);
  EXPECT_EQ(diffs[0], "model.hidden: 32 -> 64");
  EXPECT_EQ(diffs[1], "optimizer.lr: 0.001 -> 2e-04");
}

}  // namespace
}  // namespace carnot
