#include "framework/train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "framework/core/error.h"
#include "framework/io/checksum.h"
#include "framework/io/file_util.h"
#include "framework/io/safetensors.h"
#include "framework/train/model_weights.h"

namespace carnot {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

constexpr const char* kFormat = "carnot-checkpoint-1";
const char* const kFiles[] = {"model.safetensors", "ema.safetensors", "optimizer.safetensors",
                              "job.yaml"};

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open '" + path + "' to sync it: " + std::strerror(errno));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw Error("cannot sync '" + path + "': " + std::strerror(errno));
}

// state.json's own checksum covers its other fields, in their canonical dump.
std::string state_checksum(ordered_json state) {
  state.erase("checksum");
  return xxh64_hex(state.dump());
}

SafetensorsTensor flat_tensor(const std::string& name, const Tensor& t) {
  SafetensorsTensor s{name, t.dtype(), {t.numel()}, {}};
  s.bytes.resize(t.bytes());
  copy_bytes(s.bytes.data(), Device::kCpu, t.raw(), t.device(), t.bytes());
  return s;
}

void copy_flat(const SafetensorsFile& f, const std::string& name, const Tensor& dst,
               const std::string& path) {
  const SafetensorsTensor& t = f.get(name);
  if (t.dtype != dst.dtype() || t.bytes.size() != dst.bytes())
    throw Error("'" + path + "': tensor '" + name + "' has " + std::to_string(t.bytes.size()) +
                " bytes, the model's optimizer state has " + std::to_string(dst.bytes()));
  copy_bytes(dst.raw(), dst.device(), t.bytes.data(), Device::kCpu, t.bytes.size());
}

std::int64_t step_of_name(const std::string& name) {
  if (name.size() != 14 || name.rfind("step_", 0) != 0) return -1;
  if (!std::all_of(name.begin() + 5, name.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  return std::stoll(name.substr(5));
}

// Checkpoint folders of a run, newest first.
std::vector<std::string> checkpoint_names(const std::string& run_dir) {
  std::vector<std::pair<std::int64_t, std::string>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run_dir + "/checkpoints", ec)) {
    const std::string name = e.path().filename().string();
    if (const std::int64_t s = step_of_name(name); s >= 0 && e.is_directory()) found.emplace_back(s, name);
  }
  std::sort(found.rbegin(), found.rend());
  std::vector<std::string> names;
  for (auto& f : found) names.push_back(f.second);
  return names;
}

}  // namespace

std::string checkpoint_dir_name(std::int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step_%09lld", (long long)step);
  return buf;
}

Checkpointer::Checkpointer(std::string run_dir, std::int64_t keep)
    : run_dir_(std::move(run_dir)), dir_(run_dir_ + "/checkpoints"), keep_(keep) {}

std::string Checkpointer::save(Trainer& trainer, int world_size) {
  const std::int64_t step = trainer.step();
  const std::string name = checkpoint_dir_name(step);
  const std::string tmp = dir_ + "/.tmp-" + name + "-" + std::to_string(::getpid());
  const std::string final_dir = dir_ + "/" + name;
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) throw Error("cannot create checkpoint folder '" + tmp + "': " + ec.message());

  const JobSpec& spec = trainer.spec();
  const ParameterStore& store = trainer.params();
  const std::string spec_yaml = job_spec_to_yaml(spec);
  ordered_json files = ordered_json::object();
  auto written = [&](const std::string& file) {
    const std::string path = tmp + "/" + file;
    const std::string bytes = read_file(path);
    files[file] = {{"xxh64", xxh64_hex(bytes)}, {"bytes", bytes.size()}};
    if (after_file_written) after_file_written(file);
  };
  save_weights(tmp + "/model.safetensors", store, trainer.weights(), spec.model);
  written("model.safetensors");
  save_weights(tmp + "/ema.safetensors", store, trainer.ema_weights(), spec.model);
  written("ema.safetensors");
  const Optimizer& opt = trainer.optimizer();
  std::vector<SafetensorsTensor> opt_state;
  const std::vector<std::string> state_names = opt.state_names();
  for (std::size_t i = 0; i < state_names.size(); ++i) opt_state.push_back(flat_tensor(state_names[i], trainer.whole_state(i)));
  write_safetensors(tmp + "/optimizer.safetensors", opt_state,
                    {{"format", "carnot"}, {"optimizer.kind", spec.optimizer.kind},
                     {"optimizer.step", std::to_string(opt.steps_taken())},
                     {"layout", "flat, in the model's gradient-bucket order (see model.safetensors)"}});
  written("optimizer.safetensors");
  write_file_atomically(tmp + "/job.yaml", spec_yaml);
  written("job.yaml");

  ordered_json state = {
      {"format", kFormat},
      {"step", step},
      {"data_position", step * spec.train.global_batch},
      {"rng", {{"generator", "philox4x32-10"}, {"seed", spec.seed}, {"next_step", step},
               {"keying", "(seed, step, global sample index, stream)"}}},
      {"world_size", world_size},
      {"spec_hash", xxh64_hex(spec_yaml)},
      {"files", files}};
  state["checksum"] = state_checksum(state);
  write_file_atomically(tmp + "/state.json", state.dump(2) + "\n");
  fsync_path(tmp);

  if (fs::exists(final_dir)) fs::remove_all(final_dir);  // a broken one of the same step
  fs::rename(tmp, final_dir, ec);
  if (ec) throw Error("cannot rename '" + tmp + "' to '" + final_dir + "': " + ec.message());
  fsync_path(dir_);
  write_file_atomically(dir_ + "/latest", name + "\n");
  fsync_path(dir_);
  prune(name);
  return final_dir;
}

void Checkpointer::prune(const std::string& keep_name) {
  const std::vector<std::string> names = checkpoint_names(run_dir_);
  std::int64_t kept = 0;
  for (const std::string& n : names) {
    if (n == keep_name || kept < keep_) {
      ++kept;
      continue;
    }
    std::error_code ec;
    fs::remove_all(dir_ + "/" + n, ec);
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec))
    if (e.path().filename().string().rfind(".tmp-", 0) == 0) fs::remove_all(e.path(), ec);
}

std::string verify_checkpoint(const std::string& dir) {
  ordered_json state;
  try {
    state = ordered_json::parse(read_file(dir + "/state.json"));
  } catch (const std::exception& e) {
    return std::string("state.json: ") + (fs::exists(dir + "/state.json") ? "unreadable: " : "missing: ") + e.what();
  }
  if (!state.contains("checksum") || state["checksum"] != state_checksum(state))
    return "state.json: checksum mismatch";
  if (state.value("format", "") != kFormat) return "state.json: unknown format";
  for (const char* file : kFiles) {
    if (!state["files"].contains(file)) return std::string(file) + ": not listed in state.json";
    const std::string path = dir + "/" + file;
    if (!fs::exists(path)) return std::string(file) + ": missing";
    const std::string bytes = read_file(path);
    const auto& want = state["files"][file];
    if (bytes.size() != want["bytes"].get<std::size_t>())
      return str_cat(file, ": ", bytes.size(), " bytes, expected ", want["bytes"].get<std::size_t>(),
                     " (truncated?)");
    if (xxh64_hex(bytes) != want["xxh64"].get<std::string>()) return std::string(file) + ": checksum mismatch";
  }
  return "";
}

std::optional<std::string> newest_good_checkpoint(const std::string& run_dir,
                                                  std::vector<std::string>* skipped) {
  for (const std::string& name : checkpoint_names(run_dir)) {
    const std::string dir = run_dir + "/checkpoints/" + name;
    const std::string problem = verify_checkpoint(dir);
    if (problem.empty()) return dir;
    if (skipped) skipped->push_back(name + ": " + problem);
  }
  return std::nullopt;
}

bool has_checkpoints(const std::string& run_dir) { return !checkpoint_names(run_dir).empty(); }

std::int64_t checkpoint_step(const std::string& dir) {
  return ordered_json::parse(read_file(dir + "/state.json")).at("step").get<std::int64_t>();
}

void load_checkpoint(const std::string& dir, Trainer& trainer) {
  const std::string problem = verify_checkpoint(dir);
  if (!problem.empty()) throw Error("checkpoint '" + dir + "' does not verify: " + problem);
  ParameterStore& store = trainer.params();
  load_weights(dir + "/model.safetensors", store, trainer.weights());
  load_weights(dir + "/ema.safetensors", store, trainer.ema_weights());
  const std::string opt_path = dir + "/optimizer.safetensors";
  const SafetensorsFile opt = read_safetensors(opt_path);
  const std::vector<std::string> state_names = trainer.optimizer().state_names();
  for (std::size_t i = 0; i < state_names.size(); ++i) copy_flat(opt, state_names[i], trainer.whole_state(i), opt_path);
  trainer.set_step(checkpoint_step(dir));
}

}  // namespace carnot
