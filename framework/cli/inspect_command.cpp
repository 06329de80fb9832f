// carnot inspect RUN_DIR | CHECKPOINT_DIR | FILE.safetensors: tensors, shapes, dtypes, metadata
// and whether each file matches the checksum its checkpoint recorded. Exit 1 when one does not.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "framework/cli/commands.h"
#include "framework/core/error.h"
#include "framework/io/checksum.h"
#include "framework/io/file_util.h"
#include "framework/io/safetensors.h"
#include "framework/train/checkpoint.h"

namespace carnot {

namespace fs = std::filesystem;

namespace {

std::string shape_str(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// The checksum state.json beside `path` records for it, or "" when there is none.
std::string recorded_checksum(const std::string& path) {
  const fs::path state = fs::path(path).parent_path() / "state.json";
  if (!fs::exists(state)) return "";
  try {
    const auto j = nlohmann::json::parse(read_file(state.string()));
    const std::string name = fs::path(path).filename().string();
    if (j.contains("files") && j["files"].contains(name)) return j["files"][name]["xxh64"];
  } catch (const std::exception&) {
  }
  return "";
}

// Prints one safetensors file; returns false when its checksum does not match its record.
bool inspect_file(const std::string& path, bool list_tensors) {
  const std::string sum = xxh64_file_hex(path);
  const std::string recorded = recorded_checksum(path);
  const bool ok = recorded.empty() || recorded == sum;
  std::printf("%s  %lld bytes  xxh64 %s  %s\n", path.c_str(), (long long)fs::file_size(path),
              sum.c_str(),
              recorded.empty() ? "(no checksum recorded beside it)"
                               : (ok ? "matches state.json" : ("MISMATCH: state.json records " + recorded).c_str()));
  if (!ok) return false;
  const SafetensorsFile f = read_safetensors(path);
  std::int64_t elements = 0;
  for (const auto& t : f.tensors) {
    std::int64_t n = 1;
    for (std::int64_t d : t.shape) n *= d;
    elements += n;
  }
  std::printf("  %zu tensors, %lld elements\n", f.tensors.size(), (long long)elements);
  for (const auto& [k, v] : f.metadata) std::printf("  metadata %s = %s\n", k.c_str(), v.c_str());
  if (list_tensors)
    for (const auto& t : f.tensors)
      std::printf("    %-40s %s %s\n", t.name.c_str(), std::string(dtype_safetensors_name(t.dtype)).c_str(),
                  shape_str(t.shape).c_str());
  return true;
}

bool inspect_checkpoint(const std::string& dir) {
  const std::string problem = verify_checkpoint(dir);
  std::printf("checkpoint %s: %s\n", dir.c_str(), problem.empty() ? "verifies" : ("BROKEN: " + problem).c_str());
  try {
    const auto j = nlohmann::json::parse(read_file(dir + "/state.json"));
    std::printf("  step %lld, data position %lld, world size %d, spec hash %s\n",
                (long long)j.value("step", -1), (long long)j.value("data_position", -1),
                j.value("world_size", -1), j.value("spec_hash", std::string("?")).c_str());
  } catch (const std::exception& e) {
    std::printf("  state.json unreadable: %s\n", e.what());
  }
  bool ok = problem.empty();
  for (const char* f : {"model.safetensors", "ema.safetensors", "optimizer.safetensors"}) {
    const std::string path = dir + "/" + f;
    if (!fs::exists(path)) {
      std::printf("%s: missing\n", path.c_str());
      ok = false;
      continue;
    }
    try {
      ok = inspect_file(path, std::string(f) == "model.safetensors") && ok;
    } catch (const Error& e) {
      std::printf("  unreadable: %s\n", e.what());
      ok = false;
    }
  }
  return ok;
}

}  // namespace

int run_inspect(const InspectArgs& args) {
  const std::string& p = args.path;
  if (!fs::exists(p)) throw UsageError("inspect: '" + p + "' does not exist");
  if (fs::is_regular_file(p)) return inspect_file(p, true) ? 0 : 1;
  if (fs::exists(p + "/state.json")) return inspect_checkpoint(p) ? 0 : 1;
  if (!fs::is_directory(p + "/checkpoints"))
    throw UsageError("inspect: '" + p + "' is not a run folder, checkpoint folder or file");
  std::printf("run folder %s\n", p.c_str());
  std::vector<std::string> skipped;
  const auto good = newest_good_checkpoint(p, &skipped);
  for (const std::string& s : skipped) std::printf("  BROKEN %s\n", s.c_str());
  if (!good) {
    std::printf("  no checkpoint verifies\n");
    return 1;
  }
  std::printf("  newest good checkpoint: %s\n", fs::path(*good).filename().c_str());
  return inspect_checkpoint(*good) && skipped.empty() ? 0 : 1;
}

}  // namespace carnot
