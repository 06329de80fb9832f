// Checkpoints: runs/<name>/checkpoints/step_<9 digits>/ with model.safetensors (fp32 weights),
// ema.safetensors, optimizer.safetensors (the optimizer state by name, flat), job.yaml (the resolved spec) and
// state.json (step, data position, RNG keying, world size, spec hash, and the xxHash64 of every
// file, plus a checksum of state.json itself). A `latest` file names the newest complete one.
//
// Writing goes to a temporary folder that is fsynced and renamed into place before `latest` is
// replaced (itself atomically), so a crash at any point leaves `latest` naming a complete
// checkpoint. Rank 0 writes. The optimizer file holds the state of every parameter whatever the
// ZeRO sharding (Trainer::gather_optimizer_state collects them on rank 0 first), so a run may
// resume with another distributed.zero or world size.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "framework/train/trainer.h"

namespace carnot {

std::string checkpoint_dir_name(std::int64_t step);  // "step_000000100"

class Checkpointer {
 public:
  Checkpointer(std::string run_dir, std::int64_t keep);

  // Writes the trainer's state at its current step; returns the checkpoint's folder. Under ZeRO,
  // call trainer.gather_optimizer_state() on every rank first.
  std::string save(Trainer& trainer, int world_size);

  // For tests: called after each file is written into the temporary folder (throw to simulate a
  // crash between files).
  std::function<void(const std::string& file)> after_file_written;

 private:
  void prune(const std::string& keep_name);
  std::string run_dir_, dir_;
  std::int64_t keep_;
};

// Empty when every file of the checkpoint folder is present and matches its checksum; otherwise
// what is wrong ("model.safetensors: checksum mismatch").
std::string verify_checkpoint(const std::string& dir);

// The newest checkpoint in run_dir/checkpoints that verifies; the newer ones that do not are
// listed in `skipped` with their problem. nullopt when there is none that verifies.
std::optional<std::string> newest_good_checkpoint(const std::string& run_dir,
                                                  std::vector<std::string>* skipped);
// Whether run_dir/checkpoints holds any checkpoint folder at all.
bool has_checkpoints(const std::string& run_dir);

// Restores a verified checkpoint into the trainer (weights, EMA, optimizer state and step); under
// ZeRO the state lands in rank 0's staging copy, for trainer.scatter_optimizer_state().
void load_checkpoint(const std::string& dir, Trainer& trainer);

// The step a checkpoint folder holds, from its state.json.
std::int64_t checkpoint_step(const std::string& dir);

}  // namespace carnot
