// carnot export --ckpt RUN --out model.safetensors [--no-ema]: a DiT's weights as the reference
// implementation names them (facebookresearch/DiT's state dict: x_embedder.proj.weight, ...,
// pos_embed [1, N, C]), EMA weights unless --no-ema, with DiT's constructor arguments in
// __metadata__ so that the file alone rebuilds the model (carnot forward, or models.py's DiT).
//
// carnot forward --ckpt RUN_OR_EXPORT --x x.npy --t t.npy [--y y.npy] --out out.npy: one network
// evaluation on given inputs (x: N×C×H×W float32, t: N float32 in the model's time units, y: N
// int64), so exports can be checked against other implementations.
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "framework/cli/commands.h"
#include "framework/core/error.h"
#include "framework/io/file_util.h"
#include "framework/io/npy.h"
#include "framework/io/safetensors.h"
#include "framework/nn/dit.h"
#include "framework/train/model_weights.h"
#include "framework/train/trainer.h"

namespace carnot {

namespace {

std::map<std::string, std::string> dit_metadata(const DitConfig& c) {
  return {{"format", "carnot-export"},
          {"model", "DiT"},
          {"input_size", std::to_string(c.input_size)},
          {"patch_size", std::to_string(c.patch)},
          {"in_channels", std::to_string(c.in_channels)},
          {"hidden_size", std::to_string(c.hidden)},
          {"depth", std::to_string(c.depth)},
          {"num_heads", std::to_string(c.heads)},
          {"mlp_ratio", std::to_string(c.mlp_ratio)},
          {"class_dropout_prob", std::to_string(c.class_dropout)},
          {"num_classes", std::to_string(c.num_classes)},
          {"learn_sigma", c.learn_sigma ? "true" : "false"}};
}

std::int64_t meta_int(const SafetensorsFile& f, const std::string& key, const std::string& path) {
  const auto it = f.metadata.find(key);
  if (it == f.metadata.end()) throw UsageError("'" + path + "': __metadata__ lacks '" + key + "' (not a carnot DiT export?)");
  try {
    return std::stoll(it->second);
  } catch (const std::exception&) {
    throw UsageError("'" + path + "': __metadata__ '" + key + "' is '" + it->second + "', not an integer");
  }
}

// A DiT with weights from a checkpoint (run or checkpoint folder; EMA unless no_ema) or an export.
std::unique_ptr<Dit> load_dit(const std::string& source, bool no_ema, std::int64_t max_batch) {
  if (source.size() > 12 && source.substr(source.size() - 12) == ".safetensors") {
    const SafetensorsFile f = read_safetensors(source);
    if (f.metadata.count("model") == 0 || f.metadata.at("model") != "DiT")
      throw UsageError("'" + source + "' is not a DiT export (its __metadata__ has no model: DiT)");
    DitConfig c;
    c.input_size = meta_int(f, "input_size", source), c.patch = meta_int(f, "patch_size", source);
    c.in_channels = meta_int(f, "in_channels", source), c.hidden = meta_int(f, "hidden_size", source);
    c.depth = meta_int(f, "depth", source), c.heads = meta_int(f, "num_heads", source);
    c.mlp_ratio = meta_int(f, "mlp_ratio", source), c.num_classes = meta_int(f, "num_classes", source);
    c.class_dropout = std::stod(f.metadata.count("class_dropout_prob") ? f.metadata.at("class_dropout_prob") : "0");
    c.learn_sigma = f.metadata.count("learn_sigma") && f.metadata.at("learn_sigma") == "true";
    auto dit = std::make_unique<Dit>(c, DType::F32, cpu_ops(), max_batch, 0);
    load_weights(f, source, dit->params(), dit->params().values());
    // The file's pos_embed, as the reference's load_state_dict takes it (ours is the same sin-cos
    // table unless the file was edited).
    const SafetensorsTensor& pos = f.get("pos_embed");
    const Tensor mine = dit->pos_embed();
    if (pos.dtype != DType::F32 || pos.bytes.size() != mine.bytes())
      throw UsageError(str_cat("'", source, "': pos_embed has ", pos.bytes.size(), " bytes, the model's is ",
                               mine.bytes(), " (float32 [1, ", mine.dim(1), ", ", mine.dim(2), "])"));
    std::memcpy(mine.raw(), pos.bytes.data(), pos.bytes.size());
    return dit;
  }
  const std::string dir = resolve_checkpoint(source);
  const JobSpec spec = parse_job_spec(read_file(dir + "/job.yaml"), dir + "/job.yaml");
  if (spec.model.kind != "dit")
    throw UsageError("'" + source + "' holds a model.kind " + spec.model.kind + " checkpoint; export and forward are for DiT");
  auto dit = std::make_unique<Dit>(dit_config(spec), DType::F32, cpu_ops(), max_batch, spec.seed);
  load_weights(dir + (no_ema ? "/model" : "/ema") + ".safetensors", dit->params(), dit->params().values());
  return dit;
}

}  // namespace

int run_export(const ExportArgs& args) {
  if (args.out.size() < 13 || args.out.substr(args.out.size() - 12) != ".safetensors")
    throw UsageError("--out '" + args.out + "': the file name must end in .safetensors");
  const std::unique_ptr<Dit> dit = load_dit(args.ckpt, args.no_ema, 1);
  const ParameterStore& store = dit->params();
  std::vector<SafetensorsTensor> tensors;
  for (const ParamInfo& p : store.params()) {
    SafetensorsTensor t{p.name, DType::F32, {}, {}};
    for (int i = 0; i < p.shape.rank(); ++i) t.shape.push_back(p.shape[i]);
    const Tensor v = store.value(p);
    t.bytes.assign(static_cast<const char*>(v.raw()), static_cast<const char*>(v.raw()) + v.bytes());
    tensors.push_back(std::move(t));
  }
  const Tensor pos = dit->pos_embed();
  tensors.push_back(SafetensorsTensor{"pos_embed", DType::F32, {1, pos.dim(1), pos.dim(2)},
                                      std::vector<char>(static_cast<const char*>(pos.raw()),
                                                        static_cast<const char*>(pos.raw()) + pos.bytes())});
  write_safetensors(args.out, tensors, dit_metadata(dit->config()));
  std::printf("carnot: %s weights of %s (%lld parameters with pos_embed) written to %s\n", args.no_ema ? "live" : "EMA",
              args.ckpt.c_str(), (long long)(store.count() + pos.numel()), args.out.c_str());
  return 0;
}

int run_forward(const ForwardArgs& args) {
  const NpyArray x = read_npy(args.x), t = read_npy(args.t);
  if (x.uint8 || x.int64 || x.dtype != DType::F32 || x.shape.size() != 4)
    throw UsageError("--x '" + args.x + "': need a float32 array N×C×H×W");
  const std::int64_t n = x.shape[0];
  if (t.uint8 || t.int64 || t.dtype != DType::F32 || t.shape != std::vector<std::int64_t>{n})
    throw UsageError(str_cat("--t '", args.t, "': need a float32 array of ", n, " times"));
  const std::unique_ptr<Dit> dit = load_dit(args.ckpt, args.no_ema, n);
  const DitConfig& c = dit->config();
  if (x.shape[1] != c.in_channels || x.shape[2] != c.input_size || x.shape[3] != c.input_size)
    throw UsageError(str_cat("--x '", args.x, "' is ", x.shape[1], "×", x.shape[2], "×", x.shape[3], " per sample; the model takes ",
                             c.in_channels, "×", c.input_size, "×", c.input_size));
  std::vector<std::int64_t> y;
  if (c.num_classes > 0) {
    if (args.y.empty()) throw UsageError("the model is class-conditional: give --y y.npy (int64, N labels)");
    const NpyArray ya = read_npy(args.y);
    if (!ya.int64 || ya.shape != std::vector<std::int64_t>{n})
      throw UsageError(str_cat("--y '", args.y, "': need an int64 array of ", n, " labels"));
    y.resize(std::size_t(n));
    std::memcpy(y.data(), ya.bytes.data(), ya.bytes.size());
  } else if (!args.y.empty()) {
    throw UsageError("--y: the model is unconditional");
  }
  std::vector<float> xs(x.bytes.size() / 4), ts(static_cast<std::size_t>(n)),
      out(static_cast<std::size_t>(n * dit->outputs()));
  std::memcpy(xs.data(), x.bytes.data(), x.bytes.size());
  std::memcpy(ts.data(), t.bytes.data(), t.bytes.size());
  dit->forward(Tensor(xs.data(), DType::F32, Shape{n, c.in_channels, c.input_size, c.input_size}), ts.data(),
               y.empty() ? nullptr : y.data(),
               Tensor(out.data(), DType::F32, Shape{n, c.out_channels(), c.input_size, c.input_size}));
  write_npy(args.out, DType::F32, {n, c.out_channels(), c.input_size, c.input_size}, out.data());
  std::printf("carnot: DiT forward of %lld samples written to %s\n", (long long)n, args.out.c_str());
  return 0;
}

}  // namespace carnot
